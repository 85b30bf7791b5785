// Package wire holds what crosses SSH between the console and a node: the
// state file and `hook state --json` (State, NodeState), the switchover lock
// and the switchover's progress lines (SwitchoverLock, LockReply,
// SwitchoverStep), and what `hook resolve-follow` reports (ResolveResult).
// The node side (hooks) writes them and the console side (nodes, actions)
// reads them; neither imports the other for them.
//
// The JSON shapes are a contract between two builds of redkeep, one on
// each end: testdata holds recorded output, and the tests fail when a field
// is renamed, dropped or changes type. Add fields; never rename them.
package wire
