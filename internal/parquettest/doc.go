// Package parquettest writes small Parquet files for tests: a few typed columns, nested lists
// and structs, nulls, Unicode and chosen key-value metadata, through arrow-go with the
// caller's (checked) allocator.
package parquettest
