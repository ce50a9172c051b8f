package casework

import "context"

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

// takeInReferral waits for one of the referral intake's places, and
// returns the function that gives it back. It fails as Unavailable, with
// nothing recorded, if ctx ends first.
func (c *Casework) takeInReferral(ctx context.Context) (release func(), err error) {
	c.intakeOnce.Do(func() {
		n := c.ReferralsAtOnce
		if n <= 0 {
			n = DefaultReferralsAtOnce
		}
		c.intake = make(chan struct{}, n)
	})
	select {
	case c.intake <- struct{}{}:
		return func() { <-c.intake }, nil
	case <-ctx.Done():
		return nil, &Error{Kind: Unavailable, Err: ctx.Err(),
			Message: "the register is busy taking in other referrals and nothing was recorded"}
	}
}
