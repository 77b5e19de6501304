package fetch

import (
	"fmt"
	"net/netip"
	"syscall"
)

// blockedPrefixes are the addresses no source may reach: the link-local
// ranges, where cloud providers serve instance metadata and credentials
// (IMDS 169.254.169.254, ECS 169.254.170.2, EKS Pod Identity agent
// 169.254.170.23), and the IPv6 IMDS range on EC2 (fd00:ec2::254,
// fd00:ec2::23). Loopback stays allowed for local sources and tests.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("fd00:ec2::/64"),
}

// embeddingPrefixes are IPv6 ranges whose last 32 bits carry an IPv4
// address that the network may deliver to: IPv4-compatible (deprecated) and
// the NAT64 well-known prefix. IPv4-mapped addresses are unmapped directly.
var embeddingPrefixes = []netip.Prefix{
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("64:ff9b::/96"),
}

// dialControl is a net.Dialer Control function: it runs after name
// resolution and before connect, for every connection including those of
// redirects, so it sees the address really dialled. It refuses blocked
// addresses with an error wrapping ErrBlockedAddress; the dialer's
// net.OpError around it names the network and address.
func dialControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// Fail closed: an address we cannot read is not one we can vouch for.
		return fmt.Errorf("unparseable address: %w", ErrBlockedAddress)
	}
	if blocked(ap.Addr()) {
		return fmt.Errorf("link-local or metadata address: %w", ErrBlockedAddress)
	}
	return nil
}

// checkHost refuses host when it is a literal blocked IP address. Names are
// left to dialControl, which sees what they resolve to.
func checkHost(host string) error {
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	if blocked(addr) {
		return fmt.Errorf("connect to %s: link-local or metadata address: %w", host, ErrBlockedAddress)
	}
	return nil
}

// blocked reports whether addr, in any of its IPv4-in-IPv6 forms, lies in
// blockedPrefixes.
func blocked(addr netip.Addr) bool {
	addr = addr.WithZone("").Unmap()
	if addr.Is6() {
		for _, p := range embeddingPrefixes {
			if p.Contains(addr) {
				b := addr.As16()
				v4 := netip.AddrFrom4([4]byte(b[12:]))
				// ::/96 also holds :: and ::1, which are not IPv4 forms
				// of anything blocked; checking the embedded IPv4 is
				// harmless for them.
				if blocked(v4) {
					return true
				}
			}
		}
	}
	for _, p := range blockedPrefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
