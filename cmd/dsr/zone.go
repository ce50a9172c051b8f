package main

import (
	"time"

	"github.com/dsr-register/dsr/internal/config"
)

// teamZone is the team's time zone (DSR_WORKING_TIMEZONE): the one every
// date shown to people, and every "today", is read in.
func teamZone(cfg config.Config) *time.Location {
	return cfg.Policy.Register().Zone()
}
