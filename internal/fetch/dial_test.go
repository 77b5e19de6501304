package fetch

import (
	"errors"
	"testing"
)

// TestDialControl calls the dial control directly: it stands for DNS names
// that resolve to these addresses, which cannot be arranged offline. No
// connection is made.
func TestDialControl(t *testing.T) {
	tests := []struct {
		address string
		blocked bool
	}{
		{"169.254.169.254:80", true},   // IMDS
		{"169.254.170.23:80", true},    // EKS Pod Identity agent
		{"169.254.170.2:80", true},     // ECS credentials endpoint
		{"169.254.0.1:443", true},      // rest of link-local
		{"169.254.255.255:8080", true}, // end of link-local
		{"[fd00:ec2::254]:80", true},   // IPv6 IMDS
		{"[fd00:ec2::23]:80", true},    // IPv6 Pod Identity agent
		{"[fd00:ec2::ffff]:80", true},  // rest of fd00:ec2::/64
		{"[fe80::1]:80", true},         // IPv6 link-local
		{"[fe80::1%eth0]:80", true},    // with a zone
		{"[febf:ffff::1]:80", true},    // end of fe80::/10
		{"[::ffff:169.254.169.254]:80", true},
		{"[::ffff:a9fe:aa17]:80", true},   // mapped 169.254.170.23, hex form
		{"[::169.254.169.254]:80", true},  // IPv4-compatible
		{"[64:ff9b::a9fe:a9fe]:80", true}, // NAT64 of 169.254.169.254
		{"not an address", true},
		{"localhost:80", true}, // names never reach Control: fail closed

		{"127.0.0.1:8080", false},
		{"127.0.0.2:80", false},
		{"[::1]:80", false},
		{"[::ffff:127.0.0.1]:80", false},
		{"10.0.0.1:80", false},
		{"192.168.1.10:443", false},
		{"8.8.8.8:53", false},
		{"169.253.255.255:80", false},
		{"169.255.0.0:80", false},
		{"[2001:db8::1]:443", false},
		{"[fd00:ec2:0:1::23]:80", false}, // outside the /64
		{"[fec0::1]:80", false},
		{"[::]:80", false},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			err := dialControl("tcp", tt.address, nil)
			if got := errors.Is(err, ErrBlockedAddress); got != tt.blocked {
				t.Fatalf("got blocked %t (error %v), want %t", got, err, tt.blocked)
			}
		})
	}
}

func TestCheckHost(t *testing.T) {
	tests := []struct {
		host    string
		blocked bool
	}{
		{"169.254.169.254", true},
		{"fd00:ec2::23", true},
		{"::ffff:169.254.170.23", true},
		{"127.0.0.1", false},
		{"::1", false},
		{"images.example.com", false}, // left to the proxy or the dial control
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			err := checkHost(tt.host)
			if got := errors.Is(err, ErrBlockedAddress); got != tt.blocked {
				t.Fatalf("got blocked %t (error %v), want %t", got, err, tt.blocked)
			}
		})
	}
}
