// Package compression recognises a compressed stream by its first bytes
// and decompresses it: gzip, bzip2, xz and zstd. Image layers and ADD's
// local archives both come labelled by content, not by name.
package compression

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Format is a stream's compression.
type Format string

// The formats recognised; None is an uncompressed stream.
const (
	None  Format = ""
	Gzip  Format = "gzip"
	Bzip2 Format = "bzip2"
	Xz    Format = "xz"
	Zstd  Format = "zstd"
)

var magics = []struct {
	f     Format
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b}},
	{Bzip2, []byte("BZh")},
	{Xz, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
}

// Detect names the compression whose magic number opens b.
func Detect(b []byte) Format {
	for _, m := range magics {
		if bytes.HasPrefix(b, m.magic) {
			return m.f
		}
	}
	return None
}

// Reader decompresses r as its first bytes say; an uncompressed stream
// passes through. Closing it does not close r.
func Reader(r io.Reader) (io.ReadCloser, Format, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(6) // a shorter stream is uncompressed
	f := Detect(magic)
	switch f {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, f, fmt.Errorf("gzip: %w", err)
		}
		return zr, f, nil
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(br)), f, nil
	case Xz:
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, f, fmt.Errorf("xz: %w", err)
		}
		return io.NopCloser(xr), f, nil
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, f, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), f, nil
	default:
		return io.NopCloser(br), f, nil
	}
}
