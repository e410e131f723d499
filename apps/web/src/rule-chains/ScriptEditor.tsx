import CodeMirror from '@uiw/react-codemirror';
import { javascript } from '@codemirror/lang-javascript';

/** CodeMirror with JavaScript highlighting: its own chunk, loaded by the code widget (scripts only). */
export default function ScriptEditor({ id, value, onChange, dark, editable }: { id: string; value: string; onChange(v: string): void; dark: boolean; editable: boolean }) {
  return (
    <CodeMirror
      id={id}
      value={value}
      onChange={onChange}
      extensions={[javascript()]}
      theme={dark ? 'dark' : 'light'}
      editable={editable}
      minHeight="120px"
      maxHeight="360px"
      basicSetup={{ foldGutter: false, highlightActiveLine: true }}
      style={{ fontSize: 12 }}
    />
  );
}
