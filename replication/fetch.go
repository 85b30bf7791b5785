package replication

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// infoSections are the INFO sections Info is built from.
var infoSections = []string{"server", "persistence", "replication", "keyspace"}

// Fetch asks one Redis server for its replication facts with a single INFO
// call. Redis before 7.0 takes only one INFO section per call; there Fetch
// falls back to the default INFO, which holds the same sections.
func Fetch(ctx context.Context, c *redis.Client) (Info, error) {
	text, err := c.Info(ctx, infoSections...).Result()
	if err != nil && isSyntaxError(err) {
		text, err = c.Info(ctx).Result()
	}
	if err != nil {
		return Info{}, fmt.Errorf("INFO on %s: %w", c.Options().Addr, err)
	}
	info, err := ParseInfo(text)
	if err != nil {
		return Info{}, fmt.Errorf("%s: %w", c.Options().Addr, err)
	}
	return info, nil
}

func isSyntaxError(err error) bool {
	return strings.HasPrefix(err.Error(), "ERR syntax") || strings.Contains(err.Error(), "wrong number of arguments")
}

// FetchRole asks a Redis server for ROLE: cheaper than INFO, and enough to
// follow a replica's offset while waiting for it to catch up.
func FetchRole(ctx context.Context, c *redis.Client) (Info, error) {
	reply, err := c.Do(ctx, "ROLE").Result()
	if err != nil {
		return Info{}, fmt.Errorf("ROLE on %s: %w", c.Options().Addr, err)
	}
	info, err := ParseRole(reply)
	if err != nil {
		return Info{}, fmt.Errorf("%s: %w", c.Options().Addr, err)
	}
	return info, nil
}
