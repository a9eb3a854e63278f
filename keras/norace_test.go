//go:build !race

package keras

const raceEnabled = false
