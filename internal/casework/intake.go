package casework

import (
	"context"
	"time"
)

// DefaultReferralsAtOnce bounds how many referrals are taken in at once
// when Casework.ReferralsAtOnce is not set.
//
// Why a bound: a batch of referrals (a morning's email, a ward's list sent
// by a script) arrives all at once, and each is a workflow started and a
// change recorded. Taken in all together they would share the CPU and the
// database with a red rating arriving meanwhile, and its alert would wait
// for them. A few at a time take in a batch as fast (the machine was busy
// anyway) while ratings, acknowledgements and every other action pass
// straight by.
const DefaultReferralsAtOnce = 4

// redFirstHold is the longest a referral waits to be taken in while red
// ratings are being recorded (Casework.redFirst). A red rating is recorded and
// alerted in tens of milliseconds even on a busy machine; past this bound
// something is wrong with it, and the referrals go on regardless.
const redFirstHold = 250 * time.Millisecond

// takeInReferral waits for one of the referral intake's places, and
// returns the function that gives it back. A new referral is not taken in
// while a red rating is being recorded (up to redFirstHold): at the start of
// a burst every place is taken at once, and the alert would share two cores
// with them. It fails as Unavailable, with nothing recorded, if ctx ends
// first.
func (c *Casework) takeInReferral(ctx context.Context) (release func(), err error) {
	c.intakeOnce.Do(func() {
		n := c.ReferralsAtOnce
		if n <= 0 {
			n = DefaultReferralsAtOnce
		}
		c.intake = make(chan struct{}, n)
	})
	c.redFirst.Wait(ctx, redFirstHold) // false only if ctx ended: the select below says so
	select {
	case c.intake <- struct{}{}:
		return func() { <-c.intake }, nil
	case <-ctx.Done():
		return nil, &Error{Kind: Unavailable, Err: ctx.Err(),
			Message: "the register is busy taking in other referrals and nothing was recorded"}
	}
}
