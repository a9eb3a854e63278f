//go:build !deepframe_static

package autograd

// The accelerated CPU backends register themselves with package backend when imported; every
// program that computes imports autograd, so importing them here makes them available
// everywhere. Which one runs is still decided at run time (DEEPFRAME_BACKEND, else the
// fastest that loads), and a missing library only means falling back to the next.
//
// Loading libraries at run time makes the executable dynamically linked against the C
// library, even with CGO_ENABLED=0. Building with -tags deepframe_static leaves the drivers
// out, for a fully static binary (scratch or musl images) that runs the reference backend.
import (
	_ "github.com/deepframe/deepframe/backend/onednn"
	_ "github.com/deepframe/deepframe/backend/openblas"
)
