package transform

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

// joinFiles are the files of one partition of a join (the password or the mapping join): its
// rows, each an owner key and a row body, two frames; and its probes, each a record number and
// an owner key (probeFiles).
type joinFiles struct {
	rows, probes string
}

// raisePeak raises *peak, the largest index a join's partition took, to size when it is larger.
// Partitions are matched concurrently.
func raisePeak(peak *atomic.Int64, size int64) {
	for p := peak.Load(); size > p && !peak.CompareAndSwap(p, size); {
		p = peak.Load()
	}
}

// eachRowFrame calls fn for every row of the rows file at path (of a join's partition, what in
// errors), in file order, with its owner key in b.key and its body in b.body.
func eachRowFrame(path, what string, b *frameBufs, fn func() error) error {
	s := &stream{path: path, size: joinBuffer}
	f, r, err := s.open()
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	defer f.Close()
	for {
		err := readFrame(r, &b.key)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil {
			err = unexpectedEOF(readFrame(r, &b.body))
		}
		if err != nil {
			return fmt.Errorf("read %s: %s: %w", what, path, err)
		}
		if len(b.key) == 0 || len(b.body) == 0 {
			return fmt.Errorf("read %s: %s: empty row", what, path)
		}
		if err := fn(); err != nil {
			return err
		}
	}
}

// writeRowFrame writes a row to s, the rows file of a join's partition (what names the join in
// errors), as eachRowFrame reads it: its owner key, then its body b.body, framed. It returns the
// bytes written.
func writeRowFrame(s *stream, b *frameBufs, key, what string) (int, error) {
	b.buf = appendFrame(appendFrame(b.buf[:0], key), bytesString(b.body))
	if _, err := s.w.Write(b.buf); err != nil {
		return 0, fmt.Errorf("write %s partition: %w", what, err)
	}
	return len(b.buf), nil
}

// splitJoinFiles copies the rows and probes of partition src into the parts dst, by a hash of
// the owner key under seed, so that each owner's rows and probes land in the same part, in their
// order. It removes src's files, and the files of the parts that got no row (their probes would
// find nothing), and returns how many rows each part got. what names the join in errors
// ("password", "mapping").
func splitJoinFiles(src joinFiles, dst []joinFiles, seed uint64, what string, b *frameBufs) ([]int, error) {
	rows := make([]*stream, len(dst))
	probePaths := make([]string, len(dst))
	for q := range dst {
		probePaths[q] = dst[q].probes
	}
	probes, err := createProbeFiles(probePaths, what+" probes")
	defer func() {
		probes.close()
		for _, s := range rows {
			s.close()
		}
	}()
	if err != nil {
		return nil, err
	}
	for q := range dst {
		if rows[q], err = createStream(dst[q].rows, what+" partition", joinBuffer); err != nil {
			return nil, err
		}
	}
	counts := make([]int, len(dst))
	err = eachRowFrame(src.rows, what+" partition", b, func() error {
		q := seededPartitionOf(bytesString(b.key), len(dst), seed)
		counts[q]++
		_, err := writeRowFrame(rows[q], b, bytesString(b.key), what)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = eachProbe(src.probes, what+" probes", b, func(n int) error {
		return probes.add(b, seededPartitionOf(bytesString(b.key), len(dst), seed), n)
	})
	if err != nil {
		return nil, err
	}
	if err := probes.finish(); err != nil {
		return nil, err
	}
	for q := range dst {
		if err := rows[q].finish(); err != nil {
			return nil, fmt.Errorf("write %s partition: %w", what, err)
		}
		if counts[q] == 0 {
			os.Remove(dst[q].rows)
			os.Remove(dst[q].probes)
		}
	}
	os.Remove(src.rows)
	os.Remove(src.probes)
	return counts, nil
}
