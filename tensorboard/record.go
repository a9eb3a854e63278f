package tensorboard

import (
	"encoding/binary"
	"hash/crc32"
)

// TFRecord framing: an 8-byte little-endian data length, the masked CRC of
// those 8 bytes, the data, and the masked CRC of the data. Checking the
// length on its own lets a reader reject a corrupt length before trusting
// it to size a read.
const (
	recordHeaderLen = 8 + 4
	recordFooterLen = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcMaskDelta is the constant TFRecord (after LevelDB's log format) adds
// when masking a CRC.
const crcMaskDelta = 0xa282ead8

// maskedCRC returns the CRC32C of b, rotated and offset the way TFRecord
// stores it. The mask exists because the CRC of a string that itself
// contains CRCs is weak; rotating and adding a constant breaks that
// correlation. Readers compare masked values, never unmask.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + crcMaskDelta
}

// appendRecord appends data framed as one TFRecord to dst.
func appendRecord(dst, data []byte) []byte {
	var length [8]byte
	binary.LittleEndian.PutUint64(length[:], uint64(len(data)))
	dst = append(dst, length[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, maskedCRC(length[:]))
	dst = append(dst, data...)
	return binary.LittleEndian.AppendUint32(dst, maskedCRC(data))
}
