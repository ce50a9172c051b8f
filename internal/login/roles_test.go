package login

import (
	"testing"

	"github.com/dsr-register/dsr/internal/config"
)

func TestRoleMapping(t *testing.T) {
	entra := RoleMapping{Claim: "roles", CoordinatorRole: "DSR.Coordinator", ManagerRole: "DSR.Manager", NameClaim: "name"}
	groups := RoleMapping{Claim: "groups", CoordinatorRole: "0b1c-coord", ManagerRole: "7f3e-mgr", NameClaim: "name"}
	nested := RoleMapping{Claim: "realm_access.roles", CoordinatorRole: "coordinator", ManagerRole: "manager", NameClaim: "name"}
	for _, tc := range []struct {
		name    string
		mapping RoleMapping
		claims  map[string]any
		want    config.Role
		ok      bool
	}{
		{"Entra app role coordinator", entra, map[string]any{"roles": []any{"DSR.Coordinator"}}, config.RoleCoordinator, true},
		{"Entra app role manager", entra, map[string]any{"roles": []any{"Other.Role", "DSR.Manager"}}, config.RoleManager, true},
		{"both: coordinator, who may act", entra, map[string]any{"roles": []any{"DSR.Manager", "DSR.Coordinator"}}, config.RoleCoordinator, true},
		{"neither is refused", entra, map[string]any{"roles": []any{"Finance.Reader"}}, "", false},
		{"no claim is refused", entra, map[string]any{"sub": "x"}, "", false},
		{"values are matched exactly", entra, map[string]any{"roles": []any{"dsr.coordinator", "DSR.Coordinator.Old"}}, "", false},
		{"role in another claim does not count", entra, map[string]any{"groups": []any{"DSR.Coordinator"}}, "", false},
		{"groups claim", groups, map[string]any{"groups": []any{"aaaa", "7f3e-mgr"}}, config.RoleManager, true},
		{"a single string", entra, map[string]any{"roles": "DSR.Manager"}, config.RoleManager, true},
		{"a space-separated string", entra, map[string]any{"roles": "x DSR.Coordinator"}, config.RoleCoordinator, true},
		{"a nested claim", nested, map[string]any{"realm_access": map[string]any{"roles": []any{"manager"}}}, config.RoleManager, true},
		{"not strings", entra, map[string]any{"roles": []any{1, true, nil}}, "", false},
	} {
		got, ok := tc.mapping.Role(tc.claims)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: Role(%v) = %q, %v; want %q, %v", tc.name, tc.claims, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRoleMappingName(t *testing.T) {
	m := RoleMapping{Claim: "roles", NameClaim: "display"}
	for _, tc := range []struct {
		claims map[string]any
		want   string
	}{
		{map[string]any{"display": " Alice Smith ", "name": "A"}, "Alice Smith"},
		{map[string]any{"name": "Alice Smith"}, "Alice Smith"},
		{map[string]any{"preferred_username": "alice@nhs.net"}, "alice@nhs.net"},
		{map[string]any{"sub": "abc123"}, "abc123"},
	} {
		if got := m.Name(tc.claims); got != tc.want {
			t.Errorf("Name(%v) = %q, want %q", tc.claims, got, tc.want)
		}
	}
}
