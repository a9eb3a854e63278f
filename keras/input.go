package keras

import (
	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/tensor"
)

// Input declares a symbolic input of one sample's shape (no batch axis; -1 for an axis whose
// size varies) for the functional API; it is layers.Input, repeated here so that a model
// reads keras.Input ... keras.NewModel.
func Input(shape ...int) *layers.Node { return layers.Input(shape...) }

// InputLayer declares the input shape of a Sequential model as its first element, the Keras
// form keras.Sequential([keras.Input(shape=(4,)), ...]):
//
//	keras.Sequential(keras.InputLayer(4), layers.Dense(3))
//
// It is equivalent to giving the first layer layers.InputShape(4); it only also names the
// model's input. Any layers.InputLayer (layers.NewInputLayer, with a Name option) is accepted
// in that place too.
func InputLayer(shape ...int) layers.Layer { return layers.NewInputLayer(shape) }

// isInputLayer reports whether l only declares an input (and so is not one of the model's
// computing layers).
func isInputLayer(l layers.Layer) bool {
	return l != nil && l.ClassName() == "InputLayer" && len(l.Weights()) == 0
}

// declaredInputShape is the sample shape an input layer declares, or the one a layer was
// given with layers.InputShape, or nil.
func declaredInputShape(l layers.Layer) tensor.Shape {
	if isInputLayer(l) {
		if s, ok := l.(interface{ Shape() tensor.Shape }); ok {
			return s.Shape()
		}
	}
	return layers.DeclaredInputShape(l)
}
