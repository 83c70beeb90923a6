package zoomrest

// BackoffBase lets the tests retry without waiting.
var BackoffBase = &backoffBase
