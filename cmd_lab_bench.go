package main

import (
	"github.com/spf13/cobra"
)

func newLabBenchCmd(f *labFlags) *cobra.Command {
	return &cobra.Command{Use: "bench", Hidden: true, RunE: func(*cobra.Command, []string) error { return notImplemented("bench") }}
}
