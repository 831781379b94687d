export function EmptyGuide({ onStart }: { onStart: (() => void) | null }) {
  return (
    <div className="empty-guide" data-testid="empty-guide">
      <h2>Build your first workflow</h2>
      <ol>
        <li><strong>Start with a trigger.</strong> Drag <em>Manual trigger</em> from the left onto this canvas: it starts the workflow.</li>
        <li><strong>Add steps.</strong> Drag steps such as <em>Transform data</em> or <em>Log</em> next to it.</li>
        <li><strong>Connect them.</strong> Drag from the dot on the right of a step to the dot on the left of the next one.</li>
        <li><strong>Fill in the settings.</strong> Click a step; use <em>Insert data</em> to reuse the trigger’s fields.</li>
        <li><strong>Try it.</strong> Press <em>Test run</em>, watch each step turn green, then <em>Publish</em>.</li>
      </ol>
      {onStart && <button className="btn btn-primary" onClick={onStart}>Add a trigger for me</button>}
    </div>
  );
}
