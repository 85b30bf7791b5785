// Package e2e runs redkeep's binary against real labs, as an operator
// would: `status` through every failure case, a real split brain ended by
// `resolve`, and the console driven in tmux. The tests need root (network
// namespaces) and skip with the reason otherwise; each lab has its own
// prefix and subnet, so they run beside the lab package's own tests.
package e2e
