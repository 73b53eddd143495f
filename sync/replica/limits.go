package replica

// maxMsgSize is the default MaxMessageSize: the largest value (MaxValueSize,
// 1 MiB) with the largest key and a causal context of about a thousand
// writers, plus the event's other fields, fits one message, so the
// documented value limit holds whatever the key. (The decube seed's 1 MiB
// would refuse a 1 MiB value outright.) An event that still does not fit
// (a larger context, or a smaller configured max_message_size) is refused
// with ErrMessageTooLarge.
const maxMsgSize = MaxValueSize + 64<<10
