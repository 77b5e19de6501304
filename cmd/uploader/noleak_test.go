package main

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/test/miniotest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// inNetns marks the re-executed test binary running inside the namespace.
const inNetns = "UPLOADER_TEST_IN_NETNS"

// With AWS_ENDPOINT_URL_S3 at a local store and no STS endpoint, nothing
// leaves for an endpoint nobody configured: not the caller-identity lookup
// (public STS would get a request signed with the store's key), nor
// anything else at start-up or in a cycle.
//
// The test runs the uploader (run, a Job of two uploads to MinIO) in a
// network and mount namespace of its own, where loopback is the only
// interface, every IPv4 and IPv6 address is local, so that a connection to
// any address on port 80 or 443 lands on this test's listeners, and
// /etc/resolv.conf names this test's DNS server, which records every query
// and answers NXDOMAIN. Not one query and not one such connection may come.
func TestNothingLeavesForUnconfiguredEndpoints(t *testing.T) {
	if os.Getenv(inNetns) == "" {
		reexecInNetns(t, "^TestNothingLeavesForUnconfiguredEndpoints$")
		return
	}
	dns := recordDNS(t)
	conns := catchConnections(t, ":80", ":443")

	// The recorders catch what they must: a name looked up, an address dialled.
	if _, err := net.DefaultResolver.LookupHost(t.Context(), "control.example.com"); err == nil {
		t.Fatal("control lookup: got an answer, want NXDOMAIN from the test's DNS server")
	}
	if c, err := net.DialTimeout("tcp", "203.0.113.7:443", 5*time.Second); err != nil {
		t.Fatalf("control dial: %v", err)
	} else {
		c.Close()
	}
	testenv.WaitFor(t, 5*time.Second, "the recorders to see the control lookup and dial", func() bool { return len(dns.names()) > 0 && len(conns.addrs()) > 0 })
	if got := dns.names(); !slices.Contains(got, "control.example.com") {
		t.Fatalf("control lookup: recorded %q, want control.example.com", got)
	}
	dns.reset()
	conns.reset()

	srv := miniotest.Start(t)
	s3Env(t, srv, srv.Bucket(t), map[string]string{"UPLOAD_COUNT": "2"})
	os.Unsetenv("AWS_ENDPOINT_URL") // s3Env's fallback for every service: the case is no STS endpoint
	var logs testenv.LockedBuffer
	if err := run(t.Context(), nil, &logs); err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	time.Sleep(500 * time.Millisecond) // anything late still lands
	if got := dns.names(); len(got) != 0 {
		t.Errorf("DNS queries: got %q, want none", got)
	}
	if got := conns.addrs(); len(got) != 0 {
		t.Errorf("connections to other addresses: got %q, want none", got)
	}
	if !strings.Contains(logs.String(), creds.CallerNotLookedUp) {
		t.Errorf("logs do not say why the caller was not looked up (%q):\n%s", creds.CallerNotLookedUp, logs.String())
	}
}

// reexecInNetns runs this test binary again, test by test name, in new
// network and mount namespaces set up as TestNothingLeavesForUnconfiguredEndpoints
// says. It needs root (or the capability to unshare), unshare and ip.
func reexecInNetns(t *testing.T, run string) {
	t.Helper()
	for _, tool := range []string{"unshare", "ip", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Unavailable(t, tool+" not found: install util-linux and iproute2 to run the network namespace test")
		}
	}
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.0.1\noptions attempts:1 timeout:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const script = `set -e
ip link set lo up
ip route add local 0.0.0.0/0 dev lo table local
ip -6 route add local ::/0 dev lo table local
mount --bind "$1" /etc/resolv.conf
shift
exec "$@"`
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--net", "--mount", "--propagation", "private", "--",
		"sh", "-c", script, "sh", resolv, os.Args[0], "-test.run", run, "-test.count", "1", "-test.v")
	cmd.Env = append(os.Environ(), inNetns+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in the namespace:\n%s", out)
	switch {
	case err != nil && strings.Contains(string(out), "unshare failed"):
		testenv.Unavailable(t, "cannot create a network namespace (unshare --net needs root): "+err.Error())
	case err != nil:
		t.Fatalf("test in the namespace: %v", err)
	case strings.Contains(string(out), "--- SKIP"):
		testenv.Unavailable(t, "the test skipped in the namespace (see its output)")
	case !strings.Contains(string(out), "--- PASS"):
		t.Fatal("the test did not run in the namespace")
	}
}

// dnsRecorder is a DNS server on 127.0.0.1:53 (UDP and TCP) that records
// the name of every query and answers NXDOMAIN.
type dnsRecorder struct {
	mu      sync.Mutex // guards queries
	queries []string
}

func recordDNS(t *testing.T) *dnsRecorder {
	t.Helper()
	d := &dnsRecorder{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:53")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := d.answer(buf[:n]); resp != nil {
				pc.WriteTo(resp, addr)
			}
		}
	}()
	serveTCP(t, "127.0.0.1:53", func(c net.Conn) {
		var n uint16
		if binary.Read(c, binary.BigEndian, &n) != nil {
			return
		}
		msg := make([]byte, n)
		if _, err := c.Read(msg); err != nil {
			return
		}
		if resp := d.answer(msg); resp != nil {
			binary.Write(c, binary.BigEndian, uint16(len(resp)))
			c.Write(resp)
		}
	})
	return d
}

// serveTCP accepts connections on addr until the test ends, and hands each
// to handle in a goroutine of its own, closing it after.
func serveTCP(t *testing.T, addr string, handle func(net.Conn)) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			} else if err != nil {
				continue
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
}

// answer records the query's name and returns an NXDOMAIN for it.
func (d *dnsRecorder) answer(msg []byte) []byte {
	if len(msg) < 12 {
		return nil
	}
	var labels []string
	i := 12
	for i < len(msg) && msg[i] != 0 {
		l := int(msg[i])
		if i+1+l > len(msg) {
			return nil
		}
		labels = append(labels, string(msg[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(msg) {
		return nil
	}
	d.mu.Lock()
	d.queries = append(d.queries, strings.Join(labels, "."))
	d.mu.Unlock()
	resp := append([]byte(nil), msg[:i+5]...) // header and question
	resp[2] |= 0x80                           // a response
	resp[3] = resp[3]&0xf0 | 3                // NXDOMAIN
	clear(resp[6:12])                         // no answer, authority or additional records
	return resp
}

func (d *dnsRecorder) names() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Compact(slices.Sorted(slices.Values(d.queries)))
}

func (d *dnsRecorder) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.queries = nil
}

// connCatcher accepts connections on every address of some ports and
// records the address each was meant for.
type connCatcher struct {
	mu  sync.Mutex // guards got
	got []string
}

func catchConnections(t *testing.T, addrs ...string) *connCatcher {
	t.Helper()
	cc := &connCatcher{}
	for _, a := range addrs {
		serveTCP(t, a, func(c net.Conn) {
			cc.mu.Lock()
			cc.got = append(cc.got, c.LocalAddr().String())
			cc.mu.Unlock()
		})
	}
	return cc
}

func (cc *connCatcher) addrs() []string {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return slices.Clone(cc.got)
}

func (cc *connCatcher) reset() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.got = nil
}
