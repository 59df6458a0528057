package extract

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// ErrNoWatermark is returned for "--since last" in a run directory where no extract has
// succeeded.
var ErrNoWatermark = errors.New("since last: no successful extract in this run directory; give --since TIME")

// LastWatermark returns the newest created_at of the last successful extract recorded in d: the
// CountWatermark count of the newest successful extract in the manifest's history that has one,
// else the newest created_at in the current extract/users.parquet. It returns ErrNoWatermark
// when neither exists.
func LastWatermark(d *pipeline.RunDir, opts ...schemas.ReaderOption) (time.Time, error) {
	m, err := pipeline.LoadManifest(d)
	if err != nil {
		return time.Time{}, fmt.Errorf("since last: %w", err)
	}
	for _, h := range slices.Backward(m.History) {
		if h.Stage != pipeline.StageExtract || h.Status != pipeline.StatusOK {
			continue
		}
		if w, ok := h.Counts[CountWatermark]; ok {
			return time.UnixMicro(w).UTC(), nil
		}
	}
	path := d.Path(schemas.Users.Path())
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, ErrNoWatermark
	}
	rd, err := schemas.Open(path, schemas.Users, opts...)
	if err != nil {
		return time.Time{}, fmt.Errorf("since last: %w", err)
	}
	defer rd.Close()
	var newest time.Time
	for rd.Next() {
		if t := rd.Row().CreatedAt; t.After(newest) {
			newest = t
		}
	}
	if err := rd.Err(); err != nil {
		return time.Time{}, fmt.Errorf("since last: %w", err)
	}
	if newest.IsZero() {
		return time.Time{}, ErrNoWatermark
	}
	return newest, nil
}
