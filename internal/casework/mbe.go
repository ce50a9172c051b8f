package casework

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// MbE requests (Meetings by Exception) arrive by email and belong to no one
// until a coordinator says who they are about: the email names a person by
// name only, so a silent match would be the wrong-person hazard. These are
// the team's actions on them; each is recorded in one transaction and
// answers the same when repeated (the API's Idempotency-Key replays it too).

// mbeError maps the store's refusals to the caller's.
func mbeError(id int64, err error, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &Error{Kind: NotFound, Message: fmt.Sprintf("no MbE request %d, or no such person", id), Err: err}
	case errors.Is(err, store.ErrMbEDecided), errors.Is(err, store.ErrMbENotReady):
		return &Error{Kind: Conflict, Message: fmt.Sprintf("MbE request %d: %s", id, refusal(err)), Err: err}
	}
	return &Error{Kind: Unavailable, Message: "could not " + what + ": nothing was changed", Err: err}
}

// refusal is the store's refusal in its own words ("the MbE request was
// already decided: hold by alice"), without the wrapping.
func refusal(err error) string {
	msg := err.Error()
	for _, sentinel := range []error{store.ErrMbEDecided, store.ErrMbENotReady} {
		if i := strings.LastIndex(msg, sentinel.Error()); i >= 0 {
			return msg[i:]
		}
	}
	return msg
}

// MatchMbE records that a request is about someone on the register.
func (c *Casework) MatchMbE(ctx context.Context, id, personID int64, by Action) (store.MbERequest, error) {
	if personID <= 0 {
		return store.MbERequest{}, InvalidInput(register.FieldErrors{"person_id": "is required: the person on the register the request is about"})
	}
	if _, err := c.person(ctx, personID); err != nil {
		return store.MbERequest{}, err
	}
	r, err := c.Store.MatchMbE(ctx, id, personID, 0, by.By, c.Now())
	if err != nil {
		return r, mbeError(id, err, "match the request")
	}
	return r, nil
}

// DecideMbE records the team's decision (hold, or decline with a reason);
// the requester is emailed either way through the outbox.
func (c *Casework) DecideMbE(ctx context.Context, id int64, decision, reason string, by Action) (store.MbERequest, error) {
	errs := register.FieldErrors{}
	switch decision {
	case "hold", "decline":
	default:
		errs.Add("decision", `must be "hold" or "decline"`)
	}
	reason = strings.TrimSpace(reason)
	if decision == "decline" && reason == "" {
		errs.Add("reason", "is required to decline: the requester is told why")
	}
	if len(errs) > 0 {
		return store.MbERequest{}, InvalidInput(errs)
	}
	r, err := c.Store.DecideMbE(ctx, id, decision, reason, by.By, c.Now())
	if err != nil {
		return r, mbeError(id, err, "record the decision")
	}
	return r, nil
}

// MbEReferral is what starting a referral from a request gave.
type MbEReferral struct {
	Request  store.MbERequest `json:"mbe_request"`
	Referral ReferResult      `json:"referral"`
}

// ReferFromMbE starts a referral for the person a request is about, who is
// not on the register, with the details the coordinator adds (the email
// has a name only). It goes through Refer like any referral (an identity
// check may hold it); the request is then matched to the person the
// referral went to, or notes the referral while it is held.
func (c *Casework) ReferFromMbE(ctx context.Context, id int64, ref register.Referral, by Action) (MbEReferral, error) {
	req, err := c.Store.MbERequest(ctx, id)
	if err != nil {
		return MbEReferral{}, mbeError(id, err, "read the request")
	}
	if req.PersonID != 0 {
		return MbEReferral{}, &Error{Kind: Conflict, Message: fmt.Sprintf("MbE request %d is matched to %s already", id, register.Reference(req.PersonID))}
	}
	if ref.Channel == "" {
		ref.Channel = register.ChannelEmail
	}
	if strings.TrimSpace(ref.Reason) == "" {
		ref.Reason = fmt.Sprintf("MbE request %d", id)
	}
	res, err := c.Refer(ctx, ref, by)
	if err != nil {
		return MbEReferral{}, err
	}
	req, err = c.Store.MatchMbE(ctx, id, res.PersonID, res.ReferralID, by.By, c.Now())
	if err != nil {
		return MbEReferral{Referral: res}, mbeError(id, err, "note the referral on the request")
	}
	return MbEReferral{Request: req, Referral: res}, nil
}
