package build

import (
	"bytes"
	"errors"
	"regexp"
	"testing"
)

func TestPlainProgressNumbersStepsAndKeepsLinesWhole(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, ProgressPlain)
	a := p.step("[a 2/2] RUN x", "RUN x", false)
	meta := p.step("ENV k=v", "ENV k=v", true)
	b := p.step("[b 2/2] RUN y", "RUN y", false)
	a.Write([]byte("one\ntw"))
	b.Write([]byte("from b\n"))
	a.Write([]byte("o\n"))
	meta.finish(nil)
	b.cached()
	a.finish(errors.New("exit 3"))
	p.close()
	want := regexp.MustCompile(`^#1 \[a 2/2\] RUN x
#1 0\.\d{3} one

#2 \[b 2/2\] RUN y
#2 0\.\d{3} from b

#1 \[a 2/2\] RUN x
#1 0\.\d{3} two

#2 \[b 2/2\] RUN y
#2 CACHED

#1 \[a 2/2\] RUN x
#1 ERROR: exit 3
$`)
	if !want.Match(out.Bytes()) {
		t.Fatalf("plain progress:\n%s", out.String())
	}
}

func TestClassicProgressIsTheClassicBuildersForm(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, ProgressClassic)
	p.total = 2
	p.step("[internal] load build context", "", false).finish(nil)
	v := p.step("[s 1/2] FROM busybox", "FROM busybox", false)
	v.finish(nil)
	v.classic(" ---> %s\n", "abc")
	v = p.step("[s 2/2] RUN x", "RUN x", false)
	v.Write([]byte("hi"))
	v.cached()
	p.warn("careful")
	if got, want := out.String(), "Step 1/2 : FROM busybox\n ---> abc\nStep 2/2 : RUN x\nhi\n ---> Using cache\n[WARNING] careful\n"; got != want {
		t.Fatalf("classic progress:\n%q\nwant\n%q", got, want)
	}
}
