// Package dep is a module the app replaces with a local directory.
package dep

// Name is used by the app so the module is linked in.
var Name = "dep"
