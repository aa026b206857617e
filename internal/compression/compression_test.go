package compression

import (
	"bytes"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// bzip2Hello is `printf 'hello\n' | bzip2`: the standard library reads
// bzip2 but cannot write it.
var bzip2Hello = []byte{0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0xc1, 0xc0, 0x80, 0xe2, 0x00, 0x00,
	0x01, 0x41, 0x00, 0x00, 0x10, 0x02, 0x44, 0xa0, 0x00, 0x30, 0xcd, 0x00, 0xc3, 0x46, 0x29, 0x97, 0x17, 0x72, 0x45,
	0x38, 0x50, 0x90, 0xc1, 0xc0, 0x80, 0xe2}

func compress(t *testing.T, f Format, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	var w io.WriteCloser
	var err error
	switch f {
	case None:
		return data
	case Bzip2:
		return bzip2Hello
	case Gzip:
		w = gzip.NewWriter(&b)
	case Xz:
		w, err = xz.NewWriter(&b)
	case Zstd:
		w, err = zstd.NewWriter(&b)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReaderRecognisesEachFormat(t *testing.T) {
	for _, f := range []Format{None, Gzip, Bzip2, Xz, Zstd} {
		r, got, err := Reader(bytes.NewReader(compress(t, f, []byte("hello\n"))))
		if err != nil {
			t.Fatalf("%q: %v", f, err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%q: read: %v", f, err)
		}
		if got != f || string(data) != "hello\n" {
			t.Errorf("%q: got format %q and %q", f, got, data)
		}
		if err := r.Close(); err != nil {
			t.Errorf("%q: close: %v", f, err)
		}
	}
}

func TestReaderShortAndCorruptStreams(t *testing.T) {
	for _, in := range [][]byte{nil, {0x1f}, []byte("BZ")} {
		r, f, err := Reader(bytes.NewReader(in))
		if err != nil || f != None {
			t.Fatalf("%x: got %q, %v; want an uncompressed stream", in, f, err)
		}
		if data, _ := io.ReadAll(r); !bytes.Equal(data, in) {
			t.Errorf("%x: read back %x", in, data)
		}
	}
	if _, _, err := Reader(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0})); err == nil {
		t.Error("a truncated gzip header: want an error")
	}
	r, _, err := Reader(bytes.NewReader(append([]byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, bytes.Repeat([]byte{1}, 30)...)))
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if err == nil {
		t.Error("a corrupt xz stream: want an error")
	}
}
