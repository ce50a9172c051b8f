package api

import (
	"net/http"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/register"
)

// referralRequest is a referral's body, for POST /referrals and for a
// referral from an MbE request.
type referralRequest struct {
	Person struct {
		GivenName      string   `json:"given_name"`
		FamilyName     string   `json:"family_name"`
		DateOfBirth    string   `json:"date_of_birth"`
		NHSNumber      string   `json:"nhs_number"`
		Diagnoses      []string `json:"diagnoses"`
		LocalAuthority string   `json:"local_authority"`
		Postcode       string   `json:"postcode"`
	} `json:"person"`
	Referrer struct {
		Kind         string `json:"kind"`
		Name         string `json:"name"`
		Organisation string `json:"organisation"`
		Email        string `json:"email"`
		Phone        string `json:"phone"`
	} `json:"referrer"`
	Channel string `json:"channel"`
	Reason  string `json:"reason"`
}

// referral is the request as a register.Referral. A date that does not
// parse is refused here (400) with every other bad field too: casework
// validates the rest on the normal path. The parse error is added first,
// so it wins for its field.
func (req referralRequest) referral(now time.Time) (register.Referral, error) {
	errs := register.FieldErrors{}
	dob := parseDate(req.Person.DateOfBirth, "person.date_of_birth", errs)
	ref := register.Referral{
		Person: register.Person{
			GivenName: req.Person.GivenName, FamilyName: req.Person.FamilyName, DateOfBirth: dob,
			NHSNumber: req.Person.NHSNumber, LocalAuthority: req.Person.LocalAuthority, Postcode: req.Person.Postcode,
		},
		Referrer: register.Referrer{
			Kind: register.ReferrerKind(req.Referrer.Kind), Name: req.Referrer.Name,
			Organisation: req.Referrer.Organisation, Email: req.Referrer.Email, Phone: req.Referrer.Phone,
		},
		Channel: register.Channel(req.Channel),
		Reason:  req.Reason,
	}
	for _, dg := range req.Person.Diagnoses {
		ref.Person.Diagnoses = append(ref.Person.Diagnoses, register.Diagnosis(dg))
	}
	if len(errs) > 0 {
		_, more := register.ValidateReferral(ref, now)
		errs.Merge(more)
		return ref, casework.InvalidReferral(errs)
	}
	return ref, nil
}

func handleRefer(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req referralRequest
		if !decode(w, r, &req) {
			return
		}
		ref, err := req.referral(d.Now())
		if err != nil {
			writeCaseworkError(w, r, err)
			return
		}
		if role(r) == config.RoleReferrer {
			// Referrers learn nothing about who is on the register: one
			// answer for everyone, given once the referral is recorded.
			res, err := d.Casework.Receive(r.Context(), ref, referralAction(r))
			if err != nil {
				writeCaseworkError(w, r, err)
				return
			}
			writeJSON(w, http.StatusAccepted, referralReceived{Receipt: res.Receipt, Status: "received"})
			return
		}
		res, err := d.Casework.Refer(r.Context(), ref, referralAction(r))
		if err != nil {
			writeCaseworkError(w, r, err)
			return
		}
		code := http.StatusCreated
		switch {
		case res.IdentityCheck != nil:
			code = http.StatusAccepted
		case res.Existing:
			code = http.StatusOK
		}
		writeJSON(w, code, res)
	})
}

// referralReceived is all a referrer is told about an accepted referral.
type referralReceived struct {
	Receipt string `json:"receipt"`
	Status  string `json:"status"`
}
