package inbound

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// Socket Mode needs no public URL (the default for NHS networks): Slack
// sends interactions and slash commands over a websocket the service opens
// with the app-level token, and each is acknowledged on it. Slack waits 3
// seconds for an acknowledgement, then shows the user an error (and may
// deliver the envelope again), so no event waits for another, and none is
// acknowledged later than socketAckWithin, whatever its work is doing.

// Socket Mode bounds.
const (
	// socketAckWithin is when an event is acknowledged at the latest,
	// counted from when it arrived: half a second inside Slack's 3 seconds
	// for the acknowledgement to reach Slack.
	socketAckWithin = 2500 * time.Millisecond
	// socketWorkWithin bounds an event's work once it has started. A form
	// or command that outlasts its acknowledgement keeps going (the
	// acknowledgement has told the user so) until this bound.
	socketWorkWithin = 30 * time.Second
	// socketMaxInFlight bounds the events worked at once, so a flood of
	// clicks cannot open unbounded Temporal Updates and database reads.
	socketMaxInFlight = 32
	// socketDrainWithin bounds how long RunSocketMode waits, once its
	// context ends, for the events still being worked.
	socketDrainWithin = 10 * time.Second
	// socketAckSendWithin bounds writing one acknowledgement: past it Slack
	// has given up on it anyway.
	socketAckSendWithin = time.Second
	// socketLateAnswerWithin bounds posting a slash command's answer to its
	// response_url when it came after the acknowledgement.
	socketLateAnswerWithin = 10 * time.Second
)

// What an event is told when its work has not answered in time. A form
// stays open with the message against its first field; it is one action
// (its view ID), so submitting it again is safe.
const (
	formStillWorking = "Still working on this — it may already be recorded. " +
		"It is safe to submit again: it will not be recorded twice."
	formBusy            = "The register is busy just now; nothing was recorded. Please submit again in a moment."
	commandStillWorking = "Still working on that… the answer will follow here."
	commandBusy         = "The register is busy just now. Please try again in a moment."
	clickBusy           = "The register is busy just now; nothing was changed. Please click again in a moment."
)

// Acker acknowledges a Socket Mode request; *socketmode.Client is one.
type Acker interface {
	Ack(req socketmode.Request, payload ...any) error
}

// contextAcker is an Acker whose acknowledgement can be bounded;
// *socketmode.Client is one (its Ack waits without a deadline for room in
// the connection's outgoing queue).
type contextAcker interface {
	AckCtx(ctx context.Context, envelopeID string, payload any) error
}

// RunSocketMode connects and handles events until ctx ends, each in its own
// goroutine (at most socketMaxInFlight worked at once), then waits for the
// events still being worked, up to socketDrainWithin.
func (in *Interactions) RunSocketMode(ctx context.Context, client *socketmode.Client) error {
	events := newSocketEvents(in, client)
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() {
		defer close(served)
		events.serve(serveCtx, client.Events)
	}()
	// RunContext returns only with an error: ctx's, or the connection's.
	err := client.RunContext(ctx)
	stop()
	<-served
	if ctx.Err() == nil {
		return fmt.Errorf("slack socket mode: %w", err)
	}
	return nil
}

// HandleSocketEvent handles one Socket Mode event the same way the HTTP
// endpoints do, returning once it is acknowledged: clicks are acknowledged
// at once and worked after; modal submissions and slash commands are
// answered in the acknowledgement, or told that the work goes on if it has
// not finished within socketAckWithin.
func (in *Interactions) HandleSocketEvent(ctx context.Context, acker Acker, evt socketmode.Event) {
	newSocketEvents(in, acker).handle(ctx, evt)
}

// socketEvents works Socket Mode events concurrently, each acknowledged
// exactly once and within ackWithin.
type socketEvents struct {
	in    *Interactions
	acker Acker
	log   *slog.Logger

	ackWithin, workWithin, drainWithin time.Duration

	slots     chan struct{}  // a token per event being worked
	saturated atomic.Bool    // events are waiting for a slot (logged once)
	inFlight  sync.WaitGroup // events being handled, and their work
	running   atomic.Int64   // events' work not yet finished
}

func newSocketEvents(in *Interactions, acker Acker) *socketEvents {
	log := in.Logger
	if log == nil {
		log = slog.Default()
	}
	return &socketEvents{in: in, acker: acker, log: log,
		ackWithin: socketAckWithin, workWithin: socketWorkWithin, drainWithin: socketDrainWithin,
		slots: make(chan struct{}, socketMaxInFlight)}
}

// serve handles events, each in its own goroutine, until events closes or
// ctx ends; then it waits for those in flight, up to drainWithin, and
// returns how many were still running.
func (s *socketEvents) serve(ctx context.Context, events <-chan socketmode.Event) (stillRunning int64) {
	for {
		select {
		case <-ctx.Done():
			return s.drain()
		case evt, ok := <-events:
			if !ok {
				return s.drain()
			}
			s.inFlight.Add(1)
			go func() {
				defer s.inFlight.Done()
				s.handle(ctx, evt)
			}()
		}
	}
}

// track runs an event's work in its own goroutine, counted as running
// until it finishes (which may be after the event is acknowledged).
func (s *socketEvents) track(f func()) {
	s.inFlight.Add(1)
	s.running.Add(1)
	go func() {
		defer s.inFlight.Done()
		defer s.running.Add(-1)
		f()
	}()
}

func (s *socketEvents) drain() int64 {
	done := make(chan struct{})
	go func() {
		s.inFlight.Wait()
		close(done)
	}()
	t := time.NewTimer(s.drainWithin)
	defer t.Stop()
	select {
	case <-done:
		return 0
	case <-t.C:
		n := s.running.Load()
		s.log.Warn("slack socket mode: stopped with events still being worked; they go on until their own bound",
			"still_running", n, "waited", s.drainWithin, "work_bound", s.workWithin)
		return n
	}
}

// handle works one event and returns once it has been acknowledged; work
// that outlasts the acknowledgement goes on in the background.
func (s *socketEvents) handle(ctx context.Context, evt socketmode.Event) {
	if evt.Request == nil {
		return // connection lifecycle events
	}
	deadline := time.Now().Add(s.ackWithin)
	ack := &onceAck{acker: s.acker, req: *evt.Request, log: s.log, done: make(chan struct{})}
	switch evt.Type {
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slackapi.InteractionCallback)
		if !ok {
			ack.send(nil)
			return
		}
		switch cb.Type {
		case slackapi.InteractionTypeBlockActions:
			// Acknowledge at once; the click's work follows, and any
			// failure is told to the user.
			ack.send(nil)
			s.click(ctx, cb)
		case slackapi.InteractionTypeViewSubmission:
			block := formErrorBlock(cb.View.CallbackID)
			s.answer(ctx, ack, deadline, reply{
				kind: "view_submission",
				work: func(ctx context.Context) any {
					if resp := s.in.HandleViewSubmission(ctx, cb); resp != nil {
						return resp
					}
					return nil // close the modal
				},
				stillWorking: slackapi.NewErrorsViewSubmissionResponse(map[string]string{block: formStillWorking}),
				busy:         slackapi.NewErrorsViewSubmissionResponse(map[string]string{block: formBusy}),
			})
		default:
			ack.send(nil)
		}
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slackapi.SlashCommand)
		if !ok {
			ack.send(nil)
			return
		}
		s.answer(ctx, ack, deadline, reply{
			kind:         "slash_command",
			work:         func(ctx context.Context) any { return s.in.HandleCommand(ctx, cmd) },
			stillWorking: ephemeral(commandStillWorking),
			busy:         ephemeral(commandBusy),
			late: func(ctx context.Context, answer any) error {
				return postResponseURL(ctx, cmd.ResponseURL, answer)
			},
		})
	default:
		ack.send(nil)
	}
}

// reply is how an event that is answered in its acknowledgement is worked.
type reply struct {
	kind         string // for logs: what the event is
	work         func(ctx context.Context) any
	stillWorking any // the acknowledgement when work has not answered in time
	busy         any // the acknowledgement when no slot came free in time
	// late delivers an answer that came after the acknowledgement, if the
	// event has somewhere to send it (a slash command's response_url).
	late func(ctx context.Context, answer any) error
}

// answer runs r.work in a slot and acknowledges with its answer, or with
// r.stillWorking at the deadline if it has not answered by then (the work
// goes on, bounded by workWithin), or with r.busy if no slot came free.
func (s *socketEvents) answer(ctx context.Context, ack *onceAck, deadline time.Time, r reply) {
	if !s.acquire(deadline, r.kind) {
		s.log.Warn("slack socket mode: no handler free in time; told the user to try again", "kind", r.kind)
		ack.send(r.busy)
		return
	}
	s.track(func() {
		defer s.release()
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.workWithin)
		defer cancel()
		answer := r.work(wctx)
		if ack.send(answer) {
			return
		}
		// The user has been told it is still going: the answer goes where
		// it can, or to the log.
		s.log.Info("slack socket mode: work finished after its acknowledgement", "kind", r.kind,
			"envelope_id", ack.req.EnvelopeID)
		if r.late != nil && answer != nil {
			lctx, cancel := context.WithTimeout(wctx, socketLateAnswerWithin)
			defer cancel()
			if err := r.late(lctx, answer); err != nil {
				s.log.Warn("slack socket mode: sending a late answer failed", "kind", r.kind, "error", err)
			}
		}
	})
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-ack.done:
	case <-t.C:
		if ack.send(r.stillWorking) {
			s.log.Warn("slack socket mode: acknowledged before the work finished; it goes on",
				"kind", r.kind, "envelope_id", ack.req.EnvelopeID, "ack_within", s.ackWithin)
		}
		<-ack.done
	}
}

// click works a button click after its acknowledgement, in a slot (waiting
// up to workWithin for one), within workWithin.
func (s *socketEvents) click(ctx context.Context, cb slackapi.InteractionCallback) {
	s.track(func() {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.workWithin)
		defer cancel()
		if !s.acquire(time.Now().Add(s.workWithin), "block_actions") {
			s.log.Warn("slack socket mode: no handler free for a click; told the user to click again")
			s.in.tell(wctx, cb, clickBusy)
			return
		}
		defer s.release()
		s.in.HandleBlockAction(wctx, cb)
	})
}

// acquire takes a slot, waiting until deadline at the latest.
func (s *socketEvents) acquire(deadline time.Time, kind string) bool {
	select {
	case s.slots <- struct{}{}:
		s.saturated.Store(false)
		return true
	default:
	}
	if s.saturated.CompareAndSwap(false, true) {
		s.log.Warn("slack socket mode: every handler is busy; events wait for one", "max_in_flight", cap(s.slots),
			"kind", kind)
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}

func (s *socketEvents) release() { <-s.slots }

// onceAck acknowledges one envelope exactly once: the first send wins,
// later ones do nothing and report false.
type onceAck struct {
	acker   Acker
	req     socketmode.Request
	log     *slog.Logger
	claimed atomic.Bool
	done    chan struct{} // closed once the acknowledgement has been written
}

// send acknowledges with payload (none if nil) unless it has been done,
// and reports whether this call did it.
func (a *onceAck) send(payload any) bool {
	if !a.claimed.CompareAndSwap(false, true) {
		return false
	}
	defer close(a.done)
	var err error
	if ca, ok := a.acker.(contextAcker); ok {
		ctx, cancel := context.WithTimeout(context.Background(), socketAckSendWithin)
		defer cancel()
		err = ca.AckCtx(ctx, a.req.EnvelopeID, payload)
	} else if payload == nil {
		err = a.acker.Ack(a.req)
	} else {
		err = a.acker.Ack(a.req, payload)
	}
	if err != nil {
		a.log.Warn("slack socket mode: acknowledgement not sent", "envelope_id", a.req.EnvelopeID, "error", err)
	}
	return true
}

func ephemeral(text string) *slackapi.Msg {
	return &slackapi.Msg{ResponseType: slackapi.ResponseTypeEphemeral, Text: text}
}

// formErrorBlock is the block a form's "still working" or "busy" message
// is shown against: its first input.
func formErrorBlock(callbackID string) string {
	if callbackID == modalRefer {
		return "given_name"
	}
	return firstBlock(callbackID)
}

// postResponseURL sends a slash command's answer to its response_url
// (valid for 30 minutes), as a new ephemeral message.
func postResponseURL(ctx context.Context, url string, answer any) error {
	if url == "" {
		return fmt.Errorf("the command came without a response_url")
	}
	body, err := json.Marshal(answer)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("response_url answered %s", resp.Status)
	}
	return nil
}
