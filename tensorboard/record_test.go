package tensorboard

import (
	"bytes"
	"encoding/hex"
	"hash/crc32"
	"testing"
)

// The expected values were derived independently of this package: the
// CRC32C check value of "123456789" is 0xe3069283 (RFC 3720 and every
// CRC catalogue), the 32-zero-byte vector is from RFC 3720 B.4, and the
// masked values follow from the spec by hand (rotate right 15, add
// 0xa282ead8) and agree with TensorBoard's own masked_crc32c.
func TestMaskedCRC(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		crc    uint32
		masked uint32
	}{
		{"empty", nil, 0x00000000, 0xa282ead8},
		{"check string", []byte("123456789"), 0xe3069283, 0xc78ab0e5},
		{"32 zero bytes", make([]byte, 32), 0x8a9136aa, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := crc32.Checksum(tt.data, castagnoli); got != tt.crc {
				t.Errorf("crc32c = 0x%08x, want 0x%08x", got, tt.crc)
			}
			if tt.masked == 0 {
				return
			}
			if got := maskedCRC(tt.data); got != tt.masked {
				t.Errorf("maskedCRC = 0x%08x, want 0x%08x", got, tt.masked)
			}
		})
	}
}

func TestAppendRecord(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string // hex, from TensorBoard's Python RecordWriter
	}{
		{"empty", nil, "000000000000000029039807d8ea82a2"},
		{
			"version event",
			mustHex(t, "0900001040fc54d9411a0d627261696e2e4576656e743a32"),
			"1800000000000000a37f4b22" + "0900001040fc54d9411a0d627261696e2e4576656e743a32" + "338d2fe9",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("keep")
			got := appendRecord(bytes.Clone(prefix), tt.data)
			if !bytes.HasPrefix(got, prefix) {
				t.Fatalf("appendRecord overwrote dst: %x", got)
			}
			if h := hex.EncodeToString(got[len(prefix):]); h != tt.want {
				t.Errorf("record = %s\nwant     %s", h, tt.want)
			}
		})
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}
