package main

import (
	"github.com/spf13/cobra"

	"github.com/stytch-migrate/stytch-migrate/internal/inspect"
)

// newCmdInspect builds "inspect FILE.parquet".
func newCmdInspect(a *app) *cobra.Command {
	var (
		limit  int
		format string
	)
	cmd := &cobra.Command{
		Use:   "inspect FILE.parquet",
		Short: "Describe a Parquet file and show its first rows",
		Long: `Describe a Parquet file (any, not only staged ones): its Arrow schema, key-value
metadata, rows, row groups and size, then its first rows. The table format is for people;
the json format prints one JSON object describing the file, then one JSON object per row.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := inspect.ParseFormat(format)
			if err != nil {
				return usageError("--format: %v", err)
			}
			if limit < 0 {
				return usageError("--limit %d: must be 0 or more", limit)
			}
			return inspect.File(cmd.Context(), a.stdout, args[0], inspect.WithLimit(limit), inspect.WithFormat(f))
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", inspect.DefaultLimit, "show the first `N` rows")
	cmd.Flags().StringVar(&format, "format", string(inspect.FormatTable), "output format: table or json")
	return cmd
}
