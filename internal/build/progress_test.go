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
	v.stderr().Write([]byte("oops\n"))
	v.cached()
	p.warn("careful")
	if got, want := out.String(), "Step 1/2 : FROM busybox\n ---> abc\nStep 2/2 : RUN x\n\x1b[91moops\n\x1b[0mhi\n ---> Using cache\n[WARNING] careful\n"; got != want {
		t.Fatalf("classic progress:\n%q\nwant\n%q", got, want)
	}
}

func TestLintWarnsAndCheckDirectiveSkipsOrFails(t *testing.T) {
	parse := func(dockerfile string) (string, error) {
		var out bytes.Buffer
		p := newProgress(&out, ProgressClassic)
		_, _, _, err := parseDockerfile("Dockerfile", bytes.NewReader([]byte(dockerfile)), p)
		return out.String(), err
	}
	out, err := parse("FROM busybox as Build\nENV k v\nCMD echo hi\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[WARNING] FromAsCasing:", "[WARNING] StageNameCasing:", "[WARNING] LegacyKeyValueFormat: \"ENV key=value\" should be used instead of legacy \"ENV key value\" format (line 2)", "[WARNING] JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 3)"} {
		if !bytes.Contains([]byte(out), []byte(want)) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if out, _ := parse("# check=skip=JSONArgsRecommended\nFROM busybox\nCMD echo hi\n"); out != "" {
		t.Errorf("a skipped rule warned: %s", out)
	}
	if _, err := parse("# check=error=true\nFROM busybox\nCMD echo hi\n"); err == nil || !bytes.Contains([]byte(err.Error()), []byte("lint violation found for rules: JSONArgsRecommended")) {
		t.Errorf("error=true: %v", err)
	}
}
