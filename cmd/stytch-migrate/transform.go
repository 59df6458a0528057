package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stytch-migrate/stytch-migrate/stages/transform"
)

// newCmdTransform builds "transform": extract/users.parquet → the migration plan.
func newCmdTransform(a *app) *cobra.Command {
	var memoryLimit transform.ByteSize
	cmd := &cobra.Command{
		Use:   "transform",
		Short: "Plan the migration: organizations, members, duplicates and rejects",
		Long: `Turn extract/users.parquet into the migration plan in the run directory's transform/
folder: organizations.parquet, members.parquet, duplicates.parquet, rejects.parquet and, when
passwords.hashes_file is set, member_passwords.parquet (mode 0600); with strategy mapping, also
mapping_unmatched.parquet, the mapping file's rows that name no user. The rules are the transform
contract (docs/transform.md), configured by the organizations, members, passwords and transform
sections of the config. Past --memory-limit, memberships spill to disk under transform/.spill.
Read and write buffers come on top: with a large users file (1M users), the peak does not fall
much below 200 MiB, however low the limit. Exits with code 3 when some users, memberships or
password rows were rejected.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fc, err := a.config()
			if err != nil {
				return err
			}
			p, err := a.transformPlan(fc, func(cfg *transform.Config) {
				if cmd.Flags().Changed("memory-limit") {
					cfg.Transform.MemoryLimit = memoryLimit
				}
			})
			if err != nil {
				return err
			}
			res, env, err := a.runOne(cmd.Context(), p)
			if err != nil {
				return err
			}
			c := res.Counts
			fmt.Fprintf(a.stdout, "transform: %d users → %d members in %d organizations, %d duplicates, %d rejects\n",
				c[transform.CountUsers], c[transform.CountMembers], c[transform.CountOrganizations],
				c[transform.CountDuplicates], c[transform.CountRejects])
			if res.Partial {
				return partialError("transform: %d rejects in %s", c[transform.CountRejects],
					env.Dir.Path("transform/rejects.parquet"))
			}
			return nil
		},
	}
	memoryLimit = transform.DefaultMemoryLimit
	cmd.Flags().Var(&memoryLimit, "memory-limit", "memory `SIZE` before memberships spill to disk (e.g. 512MiB, 1GiB; default from the config or 1GiB)")
	return cmd
}
