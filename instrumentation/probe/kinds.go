package probe

// Event kinds of common.h, for bundles' EventKind.
const (
	KindHTTPServer = uint32(commonEventKindEVENT_HTTP_SERVER)
	KindHTTPClient = uint32(commonEventKindEVENT_HTTP_CLIENT)
	KindDB         = uint32(commonEventKindEVENT_DB)
	KindFunc       = uint32(commonEventKindEVENT_FUNC)
)
