module github.com/deepframe/deepframe

go 1.26

require (
	gonum.org/v1/gonum v0.17.0 // indirect
	google.golang.org/protobuf v1.36.10 // indirect
)
