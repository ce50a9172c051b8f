package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/dsr-register/dsr/activities"
	"github.com/dsr-register/dsr/internal/api"
	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/encryption"
	"github.com/dsr-register/dsr/internal/feedbackpage"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/mail/mailbox"
	"github.com/dsr-register/dsr/internal/mail/mbereply"
	"github.com/dsr-register/dsr/internal/mail/smtp"
	"github.com/dsr-register/dsr/internal/meetingmail"
	"github.com/dsr-register/dsr/internal/metrics"
	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/outbox"
	"github.com/dsr-register/dsr/internal/register"
	dsrslack "github.com/dsr-register/dsr/internal/slack"
	slackinbound "github.com/dsr-register/dsr/internal/slack/inbound"
	slackpacer "github.com/dsr-register/dsr/internal/slack/pacer"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/web"
	"github.com/dsr-register/dsr/worker"
)

func loadConfig(ctx context.Context, lookupEnv func(string) (string, bool)) (config.Config, error) {
	return config.Load(ctx, envLookuper(lookupEnv))
}

type envLookuper func(string) (string, bool)

func (l envLookuper) Lookup(key string) (string, bool) { return l(key) }

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

func runServe(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is required for serve (dsr dev starts a local database)")
	}
	if cfg.PayloadKeys == "" {
		return errors.New("DSR_PAYLOAD_KEYS is required for serve: keyid:base64 of 32 random bytes (dsr dev makes one)")
	}
	keys, err := encryption.ParseKeys(cfg.PayloadKeys)
	if err != nil {
		return fmt.Errorf("DSR_PAYLOAD_KEYS: %w", err)
	}
	fmt.Fprintln(stdout, "dsr: configuration")
	cfg.Print(stdout)
	return serve(ctx, cfg, keys, stdout, stderr, nil)
}

// serve runs the worker, the API and the referral redelivery loop until ctx
// is done. afterStart, if set, is told the API's base URL once it listens.
func serve(ctx context.Context, cfg config.Config, keys []encryption.Key, stdout, stderr io.Writer, afterStart func(apiURL string)) error {
	logger := newLogger(cfg, stderr)
	apiTimeout := time.Duration(cfg.APITimeout)

	st, err := openMigratedStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()

	// Sign-in is checked before anything else starts, so a bad setting
	// stops serve at once naming it; every sign-in and sign-out is audited
	// in the store.
	var auth *login.Service
	if cfg.Login.Enabled() {
		if auth, err = login.New(login.Options{Config: cfg.Login, PublicURL: cfg.PublicURL, Logger: logger, Timeout: apiTimeout, Audit: st}); err != nil {
			return fmt.Errorf("sign-in: %w", err)
		}
	}

	// One registry for dsr's figures, its HTTP requests and the Temporal
	// SDK's own metrics (the client's, and so its worker's).
	metricsReg := metrics.New()
	defer metricsReg.Close()
	metricsReg.RegisterFigures(st, 5*time.Second, 15*time.Second, logger)

	tc, err := dialTemporal(ctx, cfg, keys, logger, metricsReg.Temporal())
	if err != nil {
		return err
	}
	defer tc.Close()
	if err := ensureSearchAttributes(ctx, tc, cfg.TemporalNamespace); err != nil {
		return err
	}

	cw := &casework.Casework{Store: st, Temporal: tc, TaskQueue: cfg.TaskQueue, Logger: logger, Now: time.Now, Policy: cfg.Policy.Register(),
		DeliverWithin: time.Duration(cfg.APITimeout), ReferralsAtOnce: cfg.ReferralsAtOnce}
	// Referrals being delivered in the background finish (each is bounded)
	// before the Temporal client closes.
	defer cw.WaitForDeliveries()
	handler := http.NewServeMux()
	// Prometheus scrapes without signing in: counts by stage, rating, task
	// kind and route pattern only.
	handler.Handle("GET /metrics", metricsReg.Handler())
	apiHandler := api.NewHandler(api.Deps{Casework: cw, Store: st, Tokens: cfg.APITokens, Logger: logger, Now: time.Now, Timeout: apiTimeout, PublicURL: cfg.PublicURL})
	handler.Handle("/api/", apiHandler)
	handler.Handle("/healthz", apiHandler)
	// The web pages have the rest: signed in through login's middleware
	// (session, form tokens, security headers) when sign-in is configured;
	// without it they refuse everyone. The design system's files are
	// public, for the sign-in pages too.
	pages, err := web.NewHandler(web.Deps{Store: st, Casework: cw, Policy: cfg.Policy.Register(), Logger: logger, Now: time.Now, Timeout: apiTimeout})
	if err != nil {
		return fmt.Errorf("web pages: %w", err)
	}
	if auth != nil {
		pages = auth.Protect(pages, config.RoleCoordinator, config.RoleManager)
	}
	handler.Handle("GET /assets/", web.Assets())
	// A service answers a feedback request on the link it was emailed:
	// public, the link's token is its key.
	(&feedbackpage.Handler{Requests: st, Answers: cw, Logger: logger, Timeout: apiTimeout}).Mount(handler)
	// Bodies are bounded before login reads a form (an upload to /import
	// may be up to 20 MB; anything else 1 MB).
	handler.Handle("/", web.LimitUploads(pages))
	// The self-referral portal is public: /refer and below, its own
	// security headers, limits and sealed answers.
	if err := mountPortal(handler, cfg, cw, metricsReg, logger, apiTimeout); err != nil {
		return err
	}
	if auth != nil {
		// /login, /auth/callback, /logout, /signed-out, /auth/whoami. Web
		// pages go behind auth.Protect(page, roles...): security headers,
		// the session (login.FromContext) and the form-token check.
		auth.Mount(handler)
		logger.Info("web sign-in is on", "issuer", cfg.Login.Issuer, "redirect_url", auth.RedirectURL())
	} else {
		logger.Info("the web app is off: OIDC_ISSUER is not set (the JSON API works as before)")
	}

	notifiers := notify.Fanout{notify.Log{Logger: logger}}
	if cfg.Slack.Enabled() {
		client := slackClient(cfg.Slack)
		interactions := &slackinbound.Interactions{Casework: cw, Records: st, Client: client,
			Coordinators: cfg.Slack.Coordinators, Managers: cfg.Slack.Managers, Zone: teamZone(cfg), Logger: logger, Now: time.Now}
		if cfg.Slack.SigningSecret != "" {
			verifier := slackinbound.NewVerifier(cfg.Slack.SigningSecret)
			verifier.Logger = logger
			handler.Handle("POST /slack/interactions", verifier.Middleware(interactions.Handler()))
			handler.Handle("POST /slack/commands", verifier.Middleware(interactions.CommandsHandler()))
		}
		if cfg.Slack.AppToken != "" {
			sm := socketmode.New(client)
			go func() {
				if err := interactions.RunSocketMode(ctx, sm); err != nil {
					logger.Error("slack socket mode stopped", "error", err)
				}
			}()
		}
		paced := slackpacer.New(client, slackpacer.Options{Logger: logger})
		defer paced.Close()
		notifiers = append(notifiers, &dsrslack.Notifier{
			Records: st, Poster: paced, Channel: cfg.Slack.CoordinatorsChannel, Coordinators: cfg.Slack.Coordinators,
			AlertsChannel: cfg.Slack.AlertsTo(), ManagersChannel: cfg.Slack.ManagersChannel, Managers: cfg.Slack.Managers,
			ShowNames: cfg.Slack.ShowNames, PublicURL: cfg.PublicURL, Links: paced, History: client, Zone: teamZone(cfg), Logger: logger, Now: time.Now,
		})
	} else {
		logger.Info("Slack is not configured (SLACK_BOT_TOKEN): prompts stay in the task list and the logs")
	}
	if cfg.SMTP.Enabled() {
		// Every email out (replies to MbE requests) goes through the
		// outbox to this notifier, keyed so a retry never sends twice.
		sender := &smtp.Sender{Config: cfg.SMTP, Keys: st}
		notifiers = append(notifiers, &mbereply.Notifier{Requests: st, Sender: sender})
		// Meeting invitations (with their calendar files), updates,
		// cancellations and reminders, and feedback requests to services.
		notifiers = append(notifiers, &meetingmail.Notifier{Records: st, Sender: meetingmail.SMTP{Sender: sender},
			From: cfg.SMTP.From, PublicURL: cfg.PublicURL, Location: teamZone(cfg)})
	} else {
		logger.Info("outgoing mail is not configured (DSR_SMTP_HOST): requesters, meeting invitees and services asked for feedback are not emailed")
	}
	policy := cfg.Policy.Register()
	// Recording a change queues what it tells in the same transaction; the
	// dispatcher tells it, so a slow or unreachable Slack never holds up a
	// workflow.
	acts := &activities.Activities{
		Store:  st,
		Policy: func() register.Policy { return policy },
		Digest: &activities.Digests{Store: st, Settings: digestSettings(cfg)},
		// Meetings close required actions through casework, as a
		// coordinator's "Mark done" does.
		Meetings: &activities.Meetings{Store: st, Actions: cw},
	}
	dispatcher := &outbox.Dispatcher{Store: st, Deliver: notifiers, Logger: logger, Now: time.Now}
	// A red alert goes from the transaction that records it straight to
	// this process's dispatcher (if it holds the outbox), not after a
	// NOTIFY and a read of the outbox: those took up to tens of
	// milliseconds on a busy machine.
	st.HandAlertsTo(dispatcher.TakeAlerts)

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("DSR_HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
	}
	// The API answers within apiTimeout itself; these bound what a client
	// does (a body trickled in, an answer never read) so no connection is
	// held for ever.
	srv := &http.Server{
		Handler:           metricsReg.Observe(handler),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      apiTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	go func() { errc <- worker.Run(ctx, tc, cfg.TaskQueue, acts) }()
	go ensureDigest(ctx, tc, cfg.TaskQueue, logger)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
			return
		}
		errc <- nil
	}()
	go func() {
		redeliverReferrals(ctx, cw, time.Duration(cfg.RedeliverAfter), apiTimeout, logger)
		errc <- nil
	}()
	// The dashboard's daily count of the register (its week and month
	// changes and weekly trend).
	go web.CountRegisterDaily(ctx, st, cfg.Policy.Register(), time.Now, logger)
	dispatched := make(chan struct{})
	go func() { dispatcher.Run(ctx); close(dispatched) }()
	// MbE requests from the team's shared mailbox, each taken once.
	intakeDone := make(chan struct{})
	if cfg.Mailbox.Enabled() {
		intake := &mailbox.Intake{Config: cfg.Mailbox, Store: st, Logger: logger}
		go func() { intake.Run(ctx); close(intakeDone) }()
	} else {
		close(intakeDone)
		logger.Info("the MbE mailbox is not configured (DSR_MAILBOX_HOST): requests by email are not read")
	}

	apiURL := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "dsr: API        %s/api/v1\n", apiURL)
	logger.Info("dsr started", "api", apiURL, "task_queue", cfg.TaskQueue, "namespace", cfg.TemporalNamespace)
	if afterStart != nil {
		afterStart(apiURL)
	}

	var firstErr error
	select {
	case <-ctx.Done():
	case firstErr = <-errc:
	}
	cancel()
	shutdownCtx, done := context.WithTimeout(context.Background(), 15*time.Second)
	defer done()
	_ = srv.Shutdown(shutdownCtx)
	<-dispatched // before the pacer and the store close under it
	<-intakeDone
	logger.Info("dsr stopped")
	return firstErr
}

// slackClient talks to Slack, or to any Slack-compatible API at SLACK_API_URL.
func slackClient(c config.SlackConfig) *slackapi.Client {
	var opts []slackapi.Option
	if c.APIURL != "" {
		opts = append(opts, slackapi.OptionAPIURL(strings.TrimSuffix(c.APIURL, "/")+"/"))
	}
	if c.AppToken != "" {
		opts = append(opts, slackapi.OptionAppLevelToken(c.AppToken))
	}
	return slackapi.New(c.BotToken, opts...)
}

// redeliverReferrals hands recorded referrals that no workflow took in to
// their workflows: at start, then every minute, each person within each (one
// stuck delivery never holds up the others). It also prunes idempotency
// keys past their retention.
func redeliverReferrals(ctx context.Context, cw *casework.Casework, after, each time.Duration, logger *slog.Logger) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		if n, err := cw.RedeliverPending(ctx, after, each); err != nil {
			logger.Warn("referral redelivery failed", "error", err)
		} else if n > 0 {
			logger.Info("referrals redelivered", "count", n)
		}
		pruneCtx, cancel := context.WithTimeout(ctx, each)
		if n, err := cw.Store.PruneIdempotencyKeys(pruneCtx, time.Now().Add(-store.IdempotencyKeyRetention)); err != nil {
			logger.Warn("idempotency key pruning failed", "error", err)
		} else if n > 0 {
			logger.Info("idempotency keys pruned", "count", n)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
