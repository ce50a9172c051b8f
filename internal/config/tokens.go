package config

import (
	"fmt"
	"strings"
)

// Role is what an API caller may do.
type Role string

const (
	RoleCoordinator Role = "coordinator"
	RoleManager     Role = "manager"
	RoleReferrer    Role = "referrer"
)

// Token is one API credential; Name is the actor the audit trail records.
type Token struct {
	Name  string
	Role  Role
	Token string
}

// Tokens are the API credentials.
type Tokens []Token

// EnvDecode parses "name:role:token,name:role:token".
func (ts *Tokens) EnvDecode(val string) error {
	var out Tokens
	for i, part := range strings.Split(val, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.SplitN(part, ":", 3)
		if len(f) != 3 || f[0] == "" || f[2] == "" {
			return fmt.Errorf("entry %d must be name:role:token", i+1)
		}
		role := Role(f[1])
		if role != RoleCoordinator && role != RoleManager && role != RoleReferrer {
			return fmt.Errorf("entry %d (%s): role %q must be coordinator, manager or referrer", i+1, f[0], f[1])
		}
		if len(f[2]) < 16 {
			return fmt.Errorf("entry %d (%s): token must be at least 16 characters", i+1, f[0])
		}
		out = append(out, Token{Name: f[0], Role: role, Token: f[2]})
	}
	*ts = out
	return nil
}

// String never shows the secrets.
func (ts Tokens) String() string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name + ":" + string(t.Role)
	}
	return strings.Join(names, ",")
}
