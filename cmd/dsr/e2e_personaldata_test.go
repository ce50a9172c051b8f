package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/dsr-register/dsr/internal/encryption"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/workflows"
)

// What Temporal holds must carry no personal data in clear (DESIGN.md:
// "No personal data in Temporal-visible metadata"). The check reads what
// Temporal stores, as anyone with access to its database or UI could:
// every run of every workflow in the namespace, its history, search
// attributes and memo, as protobuf (payload data as the bytes they are,
// not base64 as protojson would show them, where a name cannot be found).

// sealedEncoding is the encoding the payload codec gives what it seals.
const sealedEncoding = "binary/encrypted"

// encodedFailureMessage is what the failure converter leaves in place of a
// failure's message once it has sealed it.
const encodedFailureMessage = "Encoded failure"

// temporalScan is what a walk over Temporal's records found.
type temporalScan struct {
	secrets []string
	// findings are what is wrong, each saying where.
	findings []string
	// Counts, so a test can tell the walk saw what it should have.
	workflows      []string
	payloads       int
	sealedFailures int
}

// scanMessage walks every field of m. Strings and bytes (payload data
// included) are searched for the secrets; every payload outside search
// attributes must be sealed by the codec; every failure our SDK wrote must
// have its message and stack trace sealed.
func (sc *temporalScan) scanMessage(where string, m proto.Message) {
	sc.walk(where, m.ProtoReflect(), false)
}

func (sc *temporalScan) walk(where string, m protoreflect.Message, inSearchAttributes bool) {
	switch v := m.Interface().(type) {
	case *commonpb.Payload:
		sc.payload(where, v, inSearchAttributes)
		return
	case *commonpb.SearchAttributes:
		// Temporal must read these to index them: never sealed, and so
		// they must hold nothing personal.
		inSearchAttributes = true
	case *failurepb.Failure:
		sc.failure(where, v)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		name := where + "." + string(fd.Name())
		switch {
		case fd.IsList():
			for i, list := 0, val.List(); i < list.Len(); i++ {
				sc.value(fmt.Sprintf("%s[%d]", name, i), fd, list.Get(i), inSearchAttributes)
			}
		case fd.IsMap():
			val.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				sc.text(name+" key", []byte(k.String()))
				sc.value(name+"["+k.String()+"]", fd.MapValue(), v, inSearchAttributes)
				return true
			})
		default:
			sc.value(name, fd, val, inSearchAttributes)
		}
		return true
	})
}

func (sc *temporalScan) value(where string, fd protoreflect.FieldDescriptor, v protoreflect.Value, inSearchAttributes bool) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		sc.walk(where, v.Message(), inSearchAttributes)
	case protoreflect.StringKind:
		sc.text(where, []byte(v.String()))
	case protoreflect.BytesKind:
		sc.text(where, v.Bytes())
	}
}

func (sc *temporalScan) payload(where string, p *commonpb.Payload, inSearchAttributes bool) {
	sc.payloads++
	if enc := string(p.GetMetadata()[converter.MetadataEncoding]); !inSearchAttributes && enc != sealedEncoding {
		sc.findings = append(sc.findings, fmt.Sprintf("%s: payload with encoding %q, not sealed by the codec (%s)", where, enc, sealedEncoding))
	}
	for k, v := range p.GetMetadata() {
		sc.text(where+".metadata["+k+"]", v)
	}
	sc.text(where+".data", p.GetData())
}

func (sc *temporalScan) failure(where string, f *failurepb.Failure) {
	if f.GetSource() != "GoSDK" {
		// Temporal's own failures (a timeout, a termination) carry its
		// fixed text; they are still searched for the secrets.
		return
	}
	if f.GetEncodedAttributes() == nil || f.GetMessage() != encodedFailureMessage || f.GetStackTrace() != "" {
		sc.findings = append(sc.findings, fmt.Sprintf("%s: failure stored with its message in clear (%q), not sealed by the failure converter", where, f.GetMessage()))
		return
	}
	sc.sealedFailures++
}

func (sc *temporalScan) text(where string, b []byte) {
	for _, secret := range sc.secrets {
		if bytes.Contains(b, []byte(secret)) {
			sc.findings = append(sc.findings, fmt.Sprintf("%s: %q in clear", where, secret))
		}
	}
}

// scanTemporal walks every run of every workflow in namespace "default":
// its description (search attributes, memo, pending activities' last
// failures) and its whole history. It first waits (up to 10 s) until
// visibility lists every workflow ID in mustInclude.
func scanTemporal(t *testing.T, tc client.Client, secrets []string, mustInclude ...string) *temporalScan {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var runs []*commonpb.WorkflowExecution
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		runs = listRuns(t, ctx, tc)
		missing := slices.DeleteFunc(slices.Clone(mustInclude), func(id string) bool {
			return slices.ContainsFunc(runs, func(r *commonpb.WorkflowExecution) bool { return r.GetWorkflowId() == id })
		})
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Temporal does not list workflows %v after 10 s", missing)
		}
	}

	sc := &temporalScan{secrets: secrets}
	for _, run := range runs {
		id, runID := run.GetWorkflowId(), run.GetRunId()
		sc.workflows = append(sc.workflows, id)
		where := id + " run " + runID
		desc, err := tc.DescribeWorkflowExecution(ctx, id, runID)
		if err != nil {
			t.Fatalf("describe %s: %v", where, err)
		}
		sc.scanMessage(where+" description", desc)
		it := tc.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatalf("history of %s: %v", where, err)
			}
			sc.scanMessage(fmt.Sprintf("%s event %d (%s)", where, ev.GetEventId(), ev.GetEventType()), ev)
		}
	}
	return sc
}

// listRuns lists every run, open or closed, in namespace "default".
func listRuns(t *testing.T, ctx context.Context, tc client.Client) []*commonpb.WorkflowExecution {
	t.Helper()
	var runs []*commonpb.WorkflowExecution
	var next []byte
	for {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", PageSize: 1000, NextPageToken: next,
		})
		if err != nil {
			t.Fatalf("list workflows: %v", err)
		}
		for _, info := range resp.GetExecutions() {
			runs = append(runs, info.GetExecution())
		}
		if next = resp.GetNextPageToken(); len(next) == 0 {
			return runs
		}
	}
}

// assertNothingPersonalInTemporal fails the test for every finding of
// scanTemporal, and unless the walk saw sealed payloads and at least one
// sealed failure (so the check had something to look at).
func (s *stack) assertNothingPersonalInTemporal(secrets []string, mustInclude ...string) {
	s.t.Helper()
	sc := scanTemporal(s.t, s.temporal, secrets, mustInclude...)
	for _, f := range sc.findings {
		s.t.Error(f)
	}
	s.t.Logf("personal-data scan: %d runs, %d payloads, %d sealed failures, %d findings", len(sc.workflows), sc.payloads, sc.sealedFailures, len(sc.findings))
	if sc.payloads == 0 || sc.sealedFailures == 0 {
		s.t.Errorf("the scan saw %d payloads and %d sealed failures: it must see both to show they are sealed", sc.payloads, sc.sealedFailures)
	}
}

// The scan finds what a protojson dump hides (a name in a payload's data),
// an unsealed payload, and a failure's message in clear.
func TestTemporalScanFindsClearText(t *testing.T) {
	plain, err := converter.GetDefaultDataConverter().ToPayload(map[string]string{"family_name": "Lovelace"})
	if err != nil {
		t.Fatal(err)
	}
	refused := temporal.GetDefaultFailureConverter().ErrorToFailure(
		temporal.NewApplicationError("already assigned to Ottoline Marchbanks", workflows.ErrNoLongerApplies))
	sa, _ := converter.GetDefaultDataConverter().ToPayload("removed")
	events := []*historypb.HistoryEvent{
		{EventId: 1, Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
			WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{
				Input:            &commonpb.Payloads{Payloads: []*commonpb.Payload{plain}},
				SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{"DsrStage": sa}},
			}}},
		{EventId: 2, Attributes: &historypb.HistoryEvent_WorkflowExecutionUpdateCompletedEventAttributes{
			WorkflowExecutionUpdateCompletedEventAttributes: &historypb.WorkflowExecutionUpdateCompletedEventAttributes{
				Outcome: &updatepb.Outcome{Value: &updatepb.Outcome_Failure{Failure: refused}},
			}}},
	}
	sc := &temporalScan{secrets: []string{"Lovelace", "Marchbanks"}}
	for _, ev := range events {
		sc.scanMessage(fmt.Sprintf("event %d", ev.GetEventId()), ev)
	}
	all := strings.Join(sc.findings, "\n")
	for _, want := range []string{`"Lovelace" in clear`, `encoding "json/plain", not sealed`, `"Marchbanks" in clear`, "failure stored with its message in clear"} {
		if !strings.Contains(all, want) {
			t.Errorf("the scan should report %s; it found:\n%s", want, all)
		}
	}
	if strings.Contains(all, "DsrStage") {
		t.Errorf("search attributes are never sealed and must not be reported as unsealed:\n%s", all)
	}
}

// refuseInHandler makes person id's workflow refuse an Update in its
// handler rather than its validator, so that the refusal is stored in the
// history (a validator's refusal never is): the failure the personal-data
// check must find sealed.
//
// With `dsr serve` stopped, a rating and then two identical assignments to
// coordinator wait at Temporal, in that order. When it is back they are
// delivered together: the rating takes the workflow's lock while its
// change is recorded; both assignments pass their validators meanwhile and
// queue for the lock; the second, checked again under the lock after the
// first, is refused with "already assigned to <coordinator>". It comes back
// to a client with the sealing converters as a whole ApplicationError.
//
// Which assignment is the second is not certain: Updates admitted while no
// worker polls can be dropped by the server after a while (its speculative
// workflow task times out) and are then sent again by their clients, in
// whatever order those retries arrive; a slow restart under load did that.
// So exactly one of the two must be refused, either one.
func (s *stack) refuseInHandler(id int64, coordinator string) {
	s.t.Helper()
	keys, err := encryption.ParseKeys(testPayloadKey)
	if err != nil {
		s.t.Fatal(err)
	}
	sealing, err := encryption.NewConverters(keys)
	if err != nil {
		s.t.Fatal(err)
	}
	hostPort := s.env["TEMPORAL_ADDRESS"]
	tc, err := client.Dial(client.Options{HostPort: hostPort, Namespace: "default",
		DataConverter: sealing.Data, FailureConverter: sealing.Failure})
	if err != nil {
		s.t.Fatal(err)
	}
	defer tc.Close()

	s.served.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	wid := workflows.PersonWorkflowID(id)
	updates := []struct {
		name string
		arg  any
	}{
		{workflows.UpdateRate, workflows.RateInput{Rating: register.Amber, Rationale: "held the lock", Actor: "alice"}},
		{workflows.UpdateAssign, workflows.AssignInput{Coordinator: coordinator, Actor: "alice"}},
		{workflows.UpdateAssign, workflows.AssignInput{Coordinator: coordinator, Actor: "alice"}},
	}
	results := make([]chan error, len(updates))
	for i, u := range updates {
		updateID := fmt.Sprintf("e2e-refuse-in-handler-%d-%d", id, i)
		results[i] = make(chan error, 1)
		go func() {
			h, err := tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: wid, UpdateID: updateID,
				UpdateName: u.name, Args: []any{u.arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
			if err == nil {
				err = h.Get(ctx, nil)
			}
			results[i] <- err
		}()
		s.waitAdmitted(ctx, tc, wid, updateID)
	}

	srv := serveInProcess(s.t, s.env)
	s.served, s.api = srv, srv.api
	var refusals []error
	for i, u := range updates {
		var err error
		select {
		case err = <-results[i]:
		case <-ctx.Done():
			s.t.Fatalf("update %d (%s) did not complete after dsr serve came back", i, u.name)
		}
		switch {
		case i == 0 && err != nil:
			s.t.Fatalf("update %d (%s): %v", i, u.name, err)
		case i > 0 && err != nil:
			refusals = append(refusals, err)
		}
	}
	if len(refusals) != 1 {
		s.t.Fatalf("%d of the two identical assignments were refused (%v); want exactly one", len(refusals), refusals)
	}
	var app *temporal.ApplicationError
	switch err := refusals[0]; {
	case !errors.As(err, &app):
		s.t.Fatalf("the second assignment should be refused by its handler with an ApplicationError, got %v", err)
	case app.Type() != workflows.ErrNoLongerApplies || app.Message() != "already assigned to "+coordinator:
		s.t.Fatalf("the refusal should read back whole through the sealing converters: type %q, message %q", app.Type(), app.Message())
	}
}

// waitAdmitted waits until Temporal has admitted the Update, so the next
// one is admitted after it and they are delivered in that order.
func (s *stack) waitAdmitted(ctx context.Context, tc client.Client, workflowID, updateID string) {
	s.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		// No wait policy: answers at once with the stage reached, or
		// NotFound if the Update has not been admitted yet.
		_, err := tc.WorkflowService().PollWorkflowExecutionUpdate(ctx, &workflowservice.PollWorkflowExecutionUpdateRequest{
			Namespace: "default",
			UpdateRef: &updatepb.UpdateRef{WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: workflowID}, UpdateId: updateID},
		})
		var notFound *serviceerror.NotFound
		if err == nil {
			return
		}
		if !errors.As(err, &notFound) {
			s.t.Fatalf("polling Update %s: %v", updateID, err)
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("Update %s was not admitted within 30 s", updateID)
		}
	}
}
