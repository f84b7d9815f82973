import ReactMarkdown from "react-markdown";

/**
 * Markdown a person wrote (descriptions, answers, notes), rendered safely: react-markdown builds
 * React elements from the syntax tree and never passes raw HTML through (no rehype-raw), and its
 * URL transform drops `javascript:` and other unsafe links. Why a library: CommonMark is large,
 * and a hand-written renderer is where injections hide.
 */
export function Markdown({ text, className = "" }: { text: string; className?: string }) {
  return (
    <div className={`prose-hyperion space-y-2 break-words ${className}`} data-testid="markdown">
      <ReactMarkdown
        skipHtml
        components={{
          a: ({ href, children }) => (
            <a href={href} className="underline" rel="noopener noreferrer nofollow">
              {children}
            </a>
          ),
          code: ({ children }) => (
            <code className="rounded bg-slate-100 px-1 font-mono text-[0.9em]">{children}</code>
          ),
          pre: ({ children }) => (
            <pre className="overflow-auto rounded bg-slate-100 p-2 text-xs">{children}</pre>
          ),
          ul: ({ children }) => <ul className="ml-5 list-disc">{children}</ul>,
          ol: ({ children }) => <ol className="ml-5 list-decimal">{children}</ol>,
          h1: ({ children }) => <h3 className="font-semibold">{children}</h3>,
          h2: ({ children }) => <h3 className="font-semibold">{children}</h3>,
          h3: ({ children }) => <h4 className="font-semibold">{children}</h4>,
        }}
      >
        {text}
      </ReactMarkdown>
    </div>
  );
}
