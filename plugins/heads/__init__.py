"""Built-in prediction heads: regression, multiclass, multilabel-binary."""
