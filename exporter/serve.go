package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultPort is the exporter's port. The Prometheus project's default
// port allocations (its wiki) give 9121 to redis_exporter, and by 2023
// every port of the 9100-9999 range it hands to exporters was taken. 10121
// is outside that range and outside Linux's ephemeral ports (32768-60999),
// and reads as "redis_exporter's port plus 1000".
const DefaultPort = 10121

// DefaultListen is where the exporter listens unless told otherwise:
// loopback, so metrics (which show the pair's topology, though no
// secrets) leave the node only when an operator names an address.
var DefaultListen = net.JoinHostPort("127.0.0.1", strconv.Itoa(DefaultPort))

// ParseListen validates a --listen address: an IP address (v4, or v6 in
// brackets) and a port. Host names are refused (which of its addresses
// would we bind?), and so is an empty host: listening on every address
// must be asked for by name (0.0.0.0 or [::]).
func ParseListen(s string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("--listen %q: want IP:PORT, e.g. %s: %v", s, DefaultListen, err)
	}
	if host == "" {
		return netip.AddrPort{}, fmt.Errorf("--listen %q: no address: name one (127.0.0.1, the node's address, or 0.0.0.0 for every address)", s)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("--listen %q: %q is not an IP address (host names and zones are not accepted)", s, host)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return netip.AddrPort{}, fmt.Errorf("--listen %q: port %q: want 1-65535", s, port)
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(p)), nil
}

// Handler serves /metrics from reg and /healthz (200 while the process
// serves). At most two scrapes gather at once, and each is cut off a
// second after the scrape timeout.
func Handler(reg *prometheus.Registry, scrapeTimeout time.Duration, errLog io.Writer) http.Handler {
	if errLog == nil {
		errLog = io.Discard
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            log.New(errLog, "redkeep exporter: ", 0),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 2,
		Timeout:             scrapeTimeout + time.Second,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<html><body><a href="/metrics">/metrics</a> <a href="/healthz">/healthz</a></body></html>`+"\n")
	})
	return mux
}

// shutdownGrace bounds how long a stopping exporter waits for scrapes in
// flight.
const shutdownGrace = 5 * time.Second

// Serve listens on addr and serves h until ctx is done, then shuts down
// gracefully (scrapes in flight finish, within shutdownGrace). listening,
// if not nil, is called with the bound address once it accepts.
func Serve(ctx context.Context, addr netip.AddrPort, h http.Handler, scrapeTimeout time.Duration, listening func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      scrapeTimeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	if listening != nil {
		listening(ln.Addr())
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}
