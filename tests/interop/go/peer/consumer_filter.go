package peer

import (
	"context"
)

import (
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/common/extension"
	"dubbo.apache.org/dubbo-go/v3/filter"
	"dubbo.apache.org/dubbo-go/v3/protocol/base"
	"dubbo.apache.org/dubbo-go/v3/protocol/result"
)

// AttachmentsFilter is the name of a consumer filter that gives the new
// client API (client.Connection.CallUnary) attachments on the Dubbo
// protocol:
//   - request: dubbo-go's convention is a map[string]any (or
//     map[string]string) under constant.AttachmentKey in the context, but
//     only its old proxy (config API) and its Triple invoker read it; the
//     Dubbo invoker does not, so this filter copies it onto the invocation.
//   - response: dubbo-go hands a Dubbo-protocol response's attachments to no
//     one but the filters; this one stores them where ResponseAttachments
//     (set in the context beforehand) points.
const AttachmentsFilter = "dubboc-attachments"

type respAttachmentsKey struct{}

// WithResponseAttachments returns a context in which the filter stores the
// response attachments of the call into *dst.
func WithResponseAttachments(ctx context.Context, dst *map[string]any) context.Context {
	return context.WithValue(ctx, respAttachmentsKey{}, dst)
}

type attachmentsFilter struct{}

func init() {
	extension.SetFilter(AttachmentsFilter, func() filter.Filter { return attachmentsFilter{} })
}

func (attachmentsFilter) Invoke(ctx context.Context, invoker base.Invoker, inv base.Invocation) result.Result {
	switch m := ctx.Value(constant.AttachmentKey).(type) {
	case map[string]any:
		for k, v := range m {
			inv.SetAttachment(k, v)
		}
	case map[string]string:
		for k, v := range m {
			inv.SetAttachment(k, v)
		}
	}
	return invoker.Invoke(ctx, inv)
}

func (attachmentsFilter) OnResponse(ctx context.Context, res result.Result, _ base.Invoker, _ base.Invocation) result.Result {
	if dst, ok := ctx.Value(respAttachmentsKey{}).(*map[string]any); ok && dst != nil {
		got := map[string]any{}
		for k, v := range res.Attachments() {
			got[k] = v
		}
		*dst = got
	}
	return res
}
