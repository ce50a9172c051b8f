package main

import (
	"time"

	"github.com/dsr-register/dsr/internal/config"
)

// teamZone is the team's time zone (DSR_WORKING_TIMEZONE): the one every
// date shown to people, and every "today", is read in. Config has checked
// the working-hours settings; nil (the surfaces' default zone) is only for
// a calendar that could not be built.
func teamZone(cfg config.Config) *time.Location {
	cal, err := cfg.Policy.Register().Calendar()
	if err != nil {
		return nil
	}
	return cal.Location()
}
