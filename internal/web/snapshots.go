package web

import (
	"context"
	"log/slog"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// CountRegisterDaily keeps the daily count of the register that the
// dashboard's "since last week / month" and weekly trend read: it counts
// today (the team's date) at once and then every hour, each day's first
// count standing. It returns when ctx is done. Each count is bounded, so a
// database that does not answer never holds it up for good.
func CountRegisterDaily(ctx context.Context, st *store.Store, policy register.Policy, now func() time.Time, logger *slog.Logger) {
	count := func() {
		c, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := st.SnapshotRegister(c, policy.LocalDate(now())); err != nil && ctx.Err() == nil {
			logger.Warn("counting the register for the dashboard failed; trying again within the hour", "error", err)
		}
	}
	count()
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			count()
		}
	}
}
