package config

import (
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sethvargo/go-envconfig"
)

// The compose file at the repository root is what operators run; these
// tests hold it to the Config struct so a typo or a forgotten timing fails
// here rather than in production.

const composeFile = "../../docker-compose.yml"

// composeSecrets are the variables an operator must supply (the file guards
// each with ${VAR:?message}); fake but valid values.
func composeSecrets() map[string]string {
	return map[string]string{
		"POSTGRES_PASSWORD": "0123456789abcdef0123456789abcdef",
		"DSR_PAYLOAD_KEYS":  "k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)),
		"DSR_API_TOKENS":    "alice:coordinator:aaaaaaaaaaaaaaaaaaaa,mgr:manager:bbbbbbbbbbbbbbbbbbbb",
	}
}

// loadCompose loads and validates the compose file with exactly env as the
// interpolation environment: not the process environment, not a .env file.
func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	path, err := filepath.Abs(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{path},
		cli.WithWorkingDirectory(filepath.Dir(path)),
		cli.WithEnv(list),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func mustLoadCompose(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	p, err := loadCompose(t, env)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

// serviceEnv is a service's environment as plain strings; an entry without a
// value (taken from the host at run time) is a failure: the file must say.
func serviceEnv(t *testing.T, p *types.Project, name string) map[string]string {
	t.Helper()
	svc, err := p.GetService(name)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	env := map[string]string{}
	for k, v := range svc.Environment {
		if v == nil {
			t.Errorf("service %s: environment %s has no value", name, k)
			continue
		}
		env[k] = *v
	}
	return env
}

// configVars are the variables Config reads. It walks Config the way printStruct does: every field's env tag,
// recursing into nested structs that have none.
func configVars() map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Type.Kind() == reflect.Struct && f.Tag.Get("env") == "" {
				walk(f.Type)
				continue
			}
			name := strings.TrimSpace(strings.Split(f.Tag.Get("env"), ",")[0])
			if name != "" {
				out[name] = f
			}
		}
	}
	walk(reflect.TypeOf(Config{}))
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestComposeLoads(t *testing.T) {
	p := mustLoadCompose(t, composeSecrets())
	for _, name := range []string{"postgresql", "temporal", "temporal-ui", "dsr-migrate", "dsr"} {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("docker-compose.yml: %v", err)
		}
	}
	for _, name := range []string{"dsr", "dsr-migrate"} {
		svc, _ := p.GetService(name)
		if svc.Build == nil {
			t.Errorf("service %s: no build section; it must build this repository's Dockerfile", name)
		}
	}
	if cmd := mustService(t, p, "dsr-migrate").Command; !slices.Equal([]string(cmd), []string{"migrate"}) {
		t.Errorf("service dsr-migrate: command %q, want [migrate]", cmd)
	}
	if cmd := mustService(t, p, "dsr").Command; !slices.Equal([]string(cmd), []string{"serve"}) {
		t.Errorf("service dsr: command %q, want [serve]", cmd)
	}
	// The healthcheck runs `dsr healthcheck`, a command the binary has
	// (cmd/dsr's e2e test runs it against a live service).
	if hc := mustService(t, p, "dsr").HealthCheck; hc == nil || !slices.Equal([]string(hc.Test), []string{"CMD", "/dsr", "healthcheck"}) {
		t.Errorf("service dsr: healthcheck %+v, want [CMD /dsr healthcheck]", hc)
	}
	dep := mustService(t, p, "dsr").DependsOn
	if d, ok := dep["dsr-migrate"]; !ok || d.Condition != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("service dsr must wait for dsr-migrate to complete successfully: %+v", dep)
	}
}

func mustService(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	svc, err := p.GetService(name)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return svc
}

// Every variable the compose file gives dsr is one Config reads: a
// misspelt DSR_REVEIW_RED would otherwise be silently ignored.
func TestComposeSetsOnlyConfigVariables(t *testing.T) {
	p := mustLoadCompose(t, composeSecrets())
	known := configVars()
	for _, svc := range []string{"dsr", "dsr-migrate"} {
		for _, name := range sortedKeys(serviceEnv(t, p, svc)) {
			if _, ok := known[name]; !ok {
				t.Errorf("service %s sets %s, which the Config struct does not read (known: %s)",
					svc, name, strings.Join(sortedKeys(known), " "))
			}
		}
	}
}

// Every timing Config reads is passed to dsr, so an operator can override
// any of them from .env, and the compose defaults are Config's defaults.
func TestComposePassesEveryTiming(t *testing.T) {
	p := mustLoadCompose(t, composeSecrets())
	env := serviceEnv(t, p, "dsr")
	durationType := reflect.TypeOf(Duration(0))
	// Every Duration anywhere in Config, and every policy variable whatever
	// its type (the keyworker age, the working week).
	timings := map[string]bool{}
	vars := configVars()
	for name, f := range vars {
		if f.Type == durationType {
			timings[name] = true
		}
	}
	policy := reflect.TypeOf(PolicyConfig{})
	for i := 0; i < policy.NumField(); i++ {
		timings[strings.TrimSpace(strings.Split(policy.Field(i).Tag.Get("env"), ",")[0])] = true
	}
	for _, name := range sortedKeys(timings) {
		if _, ok := env[name]; !ok {
			t.Errorf("service dsr does not pass %s: add `%s: ${%s:-<default>}` to its environment", name, name, name)
		}
	}
	if len(timings) < 33 {
		t.Fatalf("found %d timing variables in Config; the walk is broken", len(timings))
	}

	// Overrides reach the service.
	over := composeSecrets()
	over["DSR_REVIEW_RED"] = "5d"
	if got := serviceEnv(t, mustLoadCompose(t, over), "dsr")["DSR_REVIEW_RED"]; got != "5d" {
		t.Errorf("DSR_REVIEW_RED=5d in the environment gave dsr %q", got)
	}

	// Unset, each falls back to the documented default.
	ctx := context.Background()
	defaults, err := Load(ctx, envconfig.MapLookuper(nil))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(ctx, envconfig.MapLookuper(env))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Policy, defaults.Policy) {
		t.Errorf("the compose file's default timings differ from Config's:\ncompose %+v\nConfig  %+v", got.Policy, defaults.Policy)
	}
	if got.RedeliverAfter != defaults.RedeliverAfter || got.TaskQueue != defaults.TaskQueue ||
		got.LogLevel != defaults.LogLevel || got.TemporalNamespace != defaults.TemporalNamespace {
		t.Errorf("the compose file's defaults differ from Config's: compose %+v, Config %+v", got, defaults)
	}
}

// The values the compose file gives each dsr service load as a Config, and
// they point at the services in the file.
func TestComposeEnvironmentLoads(t *testing.T) {
	ctx := context.Background()
	p := mustLoadCompose(t, composeSecrets())
	env := serviceEnv(t, p, "dsr")
	cfg, err := Load(ctx, envconfig.MapLookuper(env))
	if err != nil {
		t.Fatalf("the dsr service's environment does not load: %v", err)
	}
	if cfg.DatabaseURL == "" || cfg.PayloadKeys == "" || len(cfg.APITokens) != 2 {
		t.Errorf("dsr serve needs DATABASE_URL, DSR_PAYLOAD_KEYS and DSR_API_TOKENS: %+v", cfg)
	}
	migrate, err := Load(ctx, envconfig.MapLookuper(serviceEnv(t, p, "dsr-migrate")))
	if err != nil {
		t.Fatalf("the dsr-migrate service's environment does not load: %v", err)
	}
	if migrate.DatabaseURL != cfg.DatabaseURL {
		t.Errorf("dsr-migrate migrates %q but dsr uses %q", migrate.DatabaseURL, cfg.DatabaseURL)
	}

	// DATABASE_URL names the postgresql service and the role, password and
	// database it creates.
	u, err := url.Parse(cfg.DatabaseURL)
	if err != nil {
		t.Fatalf("DATABASE_URL: %v", err)
	}
	pg := serviceEnv(t, p, "postgresql")
	pw, _ := u.User.Password()
	if u.Hostname() != "postgresql" || u.Port() != "5432" || u.User.Username() != pg["POSTGRES_USER"] ||
		pw != composeSecrets()["POSTGRES_PASSWORD"] || pw != pg["POSTGRES_PASSWORD"] ||
		strings.TrimPrefix(u.Path, "/") != pg["POSTGRES_DB"] {
		t.Errorf("DATABASE_URL %s does not match the postgresql service (user %s, db %s)",
			u.Redacted(), pg["POSTGRES_USER"], pg["POSTGRES_DB"])
	}

	// TEMPORAL_ADDRESS names the temporal service, which serves the
	// namespace dsr uses.
	host, port, err := net.SplitHostPort(cfg.TemporalAddress)
	if err != nil {
		t.Fatalf("TEMPORAL_ADDRESS: %v", err)
	}
	if _, err := p.GetService(host); err != nil || port != "7233" {
		t.Errorf("TEMPORAL_ADDRESS %s is not the temporal service's frontend", cfg.TemporalAddress)
	}
	if ns := serviceEnv(t, p, "temporal")["DEFAULT_NAMESPACE"]; ns != cfg.TemporalNamespace {
		t.Errorf("temporal registers namespace %q but dsr uses %q", ns, cfg.TemporalNamespace)
	}
	if ui := serviceEnv(t, p, "temporal-ui")["TEMPORAL_ADDRESS"]; ui != cfg.TemporalAddress {
		t.Errorf("temporal-ui reads %s but dsr uses %s", ui, cfg.TemporalAddress)
	}
}

// The port dsr publishes is the one its API listens on, on every interface
// of the container (127.0.0.1 would be unreachable through the port).
func TestComposePublishesHTTPAddr(t *testing.T) {
	p := mustLoadCompose(t, composeSecrets())
	cfg := load(t, serviceEnv(t, p, "dsr"))
	host, port, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil {
		t.Fatalf("DSR_HTTP_ADDR %q: %v", cfg.HTTPAddr, err)
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("DSR_HTTP_ADDR %s: in a container the API must listen on 0.0.0.0 to be reachable", cfg.HTTPAddr)
	}
	ports := mustService(t, p, "dsr").Ports
	if len(ports) == 0 {
		t.Fatal("service dsr publishes no port")
	}
	for _, pc := range ports {
		if strconv.FormatUint(uint64(pc.Target), 10) != port {
			t.Errorf("service dsr publishes %s:%d but DSR_HTTP_ADDR listens on %s", pc.Published, pc.Target, cfg.HTTPAddr)
		}
	}
}

// A missing secret stops `docker compose` with a message naming it, rather
// than starting dsr without it.
func TestComposeRequiresSecrets(t *testing.T) {
	for _, name := range sortedKeys(composeSecrets()) {
		t.Run(name, func(t *testing.T) {
			env := composeSecrets()
			delete(env, name)
			_, err := loadCompose(t, env)
			if err == nil {
				t.Fatalf("docker-compose.yml loads without %s; guard it with ${%s:?message}", name, name)
			}
			if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "set "+name+" in .env") {
				t.Errorf("error without %s does not tell the operator what to do: %v", name, err)
			}
			// Set but empty is as bad as unset.
			env[name] = ""
			if _, err := loadCompose(t, env); err == nil {
				t.Errorf("docker-compose.yml loads with %s empty", name)
			}
		})
	}
}
