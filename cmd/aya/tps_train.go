// This file belongs to the engineer building the learned TPS policy (internal/tps/rl): replace
// it with the real `aya tps train --scenarios DIR --out model.bin`. It exists only so that
// `aya tps` dispatches train and the build stays green until then.

package main

import (
	"fmt"
	"io"
)

// cmdTPSTrain trains the learned allocator; not built yet.
func cmdTPSTrain(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "aya tps train: not built yet")
	return 2
}
