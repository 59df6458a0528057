// Package deps pins the project's decided dependencies while the packages that use them are
// being written. It is removed once every dependency has a real importer.
package deps

import (
	_ "github.com/apache/arrow-go/v18/arrow/array"
	_ "github.com/apache/arrow-go/v18/parquet/pqarrow"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/spf13/cobra"
	_ "github.com/xitongsys/parquet-go/reader"
	_ "github.com/xitongsys/parquet-go-source/local"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/sync/semaphore"
	_ "golang.org/x/text/unicode/norm"
	_ "golang.org/x/time/rate"
)
