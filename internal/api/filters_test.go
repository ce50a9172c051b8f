package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/register"
)

// TestListsRefuseBadFilters: every list answers a bad filter 400 "invalid
// filter", naming each bad filter and what it may be, before it reads
// anything (there is no store here to read).
func TestListsRefuseBadFilters(t *testing.T) {
	h := NewHandler(Deps{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now,
		Tokens: config.Tokens{{Name: "alice", Role: config.RoleCoordinator, Token: token}},
	})
	_, badReference := register.ParseReference("someone")
	for _, tc := range []struct {
		url  string
		want register.FieldErrors
	}{
		{"/api/v1/identity-checks?status=closed", register.FieldErrors{"status": "must be open or resolved"}},
		{"/api/v1/mbe-requests?status=new", register.FieldErrors{"status": "must be incomplete, awaiting_decision, held or declined"}},
		{"/api/v1/meetings?upcoming=soon", register.FieldErrors{"upcoming": "must be true or false"}},
		{"/api/v1/escalations?open=maybe&unacknowledged=yes", register.FieldErrors{
			"open": "must be true or false", "unacknowledged": "must be true or false"}},
		{"/api/v1/escalations?open=true&unacknowledged=1", register.FieldErrors{"unacknowledged": "must be true or false"}},
		{"/api/v1/tasks?status=late&person_id=someone", register.FieldErrors{
			"status": "must be open, done or cancelled", "person_id": badReference.Error()}},
		{"/api/v1/people?rating=purple&stage=gone", register.FieldErrors{
			"rating": "must be one of blue, red, amber, green", "stage": "must be one of referred, active, consent_lapsed, removed"}},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body errorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusBadRequest || body.Error != "invalid filter" {
			t.Errorf("%s: %d %s, want 400 invalid filter", tc.url, rec.Code, rec.Body)
			continue
		}
		if !reflect.DeepEqual(body.Fields, tc.want) {
			t.Errorf("%s: fields %v, want %v", tc.url, body.Fields, tc.want)
		}
	}
}

func TestOrList(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   string
	}{
		{[]string{"json"}, "json"},
		{[]string{"true", "false"}, "true or false"},
		{[]string{"open", "done", "cancelled"}, "open, done or cancelled"},
	} {
		if got := orList(tc.values); got != tc.want {
			t.Errorf("orList(%q) = %q, want %q", tc.values, got, tc.want)
		}
	}
}
