package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// MbE requests from the shared mailbox (README "MbE requests by email").

var mbeID = numberedID("MbE request", "must be the MbE request's number")

func handleListMbE(d Deps) http.Handler {
	return handleList(d, "mbe_requests", func(f listFilters) string {
		return f.oneOf("status", store.MbEIncomplete, store.MbEAwaitingDecision, store.MbEHeld, store.MbEDeclined)
	}, d.Store.MbERequests)
}

// mbeRequestView is a request with the people on the register whose names
// are like the one it gives: for a coordinator to choose from, never a
// match.
type mbeRequestView struct {
	store.MbERequest
	Candidates []store.MbECandidate `json:"candidates"`
}

func handleGetMbE(d Deps) http.Handler {
	return handleWithID(mbeID, func(w http.ResponseWriter, r *http.Request, id int64) {
		req, err := d.Store.MbERequest(r.Context(), id)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				writeError(w, http.StatusNotFound, fmt.Sprintf("no MbE request %d", id), nil)
				return
			}
			writeStoreError(w, d, err)
			return
		}
		candidates := []store.MbECandidate{}
		if req.PersonID == 0 {
			if candidates, err = d.Store.MbECandidates(r.Context(), req.Details.Name); err != nil {
				writeStoreError(w, d, err)
				return
			}
		}
		if !auditListing(w, r, d, "mbe_request", map[string]string{"mbe_request_id": fmt.Sprint(id)}, len(candidates)) {
			return
		}
		writeJSON(w, http.StatusOK, mbeRequestView{MbERequest: req, Candidates: candidates})
	})
}

func handleMatchMbE(d Deps) http.Handler {
	return handleAction(mbeID, http.StatusOK, func(r *http.Request, id int64, req struct {
		PersonID personRef `json:"person_id"`
	}) (store.MbERequest, error) {
		return d.Casework.MatchMbE(r.Context(), id, int64(req.PersonID), action(r))
	})
}

type mbeDecisionRequest struct {
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
}

func handleDecideMbE(d Deps) http.Handler {
	return handleAction(mbeID, http.StatusOK, func(r *http.Request, id int64, req mbeDecisionRequest) (store.MbERequest, error) {
		return d.Casework.DecideMbE(r.Context(), id, req.Decision, req.Reason, action(r))
	})
}

// handleReferFromMbE takes the person's and the referrer's details as POST
// /referrals does (the channel is email, the reason defaults to the
// request).
func handleReferFromMbE(d Deps) http.Handler {
	return handleAction(mbeID, http.StatusCreated, func(r *http.Request, id int64, req referralRequest) (casework.MbEReferral, error) {
		if req.Channel == "" {
			req.Channel = string(register.ChannelEmail)
		}
		ref, err := req.referral(d.Now())
		if err != nil {
			return casework.MbEReferral{}, err
		}
		return d.Casework.ReferFromMbE(r.Context(), id, ref, referralAction(r))
	})
}
