/**
 * `<luna-drop-zone>`: takes whole folders (directory entries) and files by drag-and-drop,
 * with folder and file pickers as the fallback. It only collects files with their relative
 * paths and announces them; reading them is the ingest worker's job.
 *
 * @fires files-selected - detail: `{ files: DroppedFile[] }`
 * @cssprop --luna-accent - border colour while dragging
 */
import { LitElement, css, html } from 'lit';
import { customElement, property, state, query } from 'lit/decorators.js';
import type { DroppedFile } from './ingest-client.ts';
import { CONTROL_STYLES } from './ui-styles.ts';

@customElement('luna-drop-zone')
export class LunaDropZone extends LitElement {
  /** Disables input while an ingest runs. */
  @property({ type: Boolean }) busy = false;
  @state() private dragging = false;
  @query('#folder') private folderInput!: HTMLInputElement;
  @query('#files') private filesInput!: HTMLInputElement;

  static override styles = css`
    ${CONTROL_STYLES}
    :host {
      display: block;
    }
    .zone {
      border: 2px dashed var(--luna-border, #3a4654);
      border-radius: 10px;
      padding: 28px;
      text-align: center;
      transition:
        border-color 0.15s,
        background 0.15s;
    }
    .zone.dragging {
      border-color: var(--luna-accent, #7fb3ff);
      background: rgba(127, 179, 255, 0.07);
    }
    .zone.busy {
      opacity: 0.6;
    }
    p {
      margin: 0 0 12px;
    }
    .hint {
      color: var(--luna-muted, #9aa5b1);
      font-size: 12px;
    }
    button {
      margin: 0 4px;
    }
    input {
      display: none;
    }
  `;

  override render() {
    return html`
      <div
        class="zone ${this.dragging ? 'dragging' : ''} ${this.busy ? 'busy' : ''}"
        data-testid="drop-zone"
        @dragover=${this._onDragOver}
        @dragleave=${this._onDragLeave}
        @drop=${this._onDrop}
      >
        <p><strong>Drop LUNA16 subsets, MetaImage files or DICOM series here</strong></p>
        <p class="hint">
          Folders are read recursively: <code>subset0/…mhd + .raw</code>, <code>.zraw</code>, <code>.mha</code>, DICOM
          (any extension), <code>annotations.csv</code>, <code>candidates.csv</code>. Nothing leaves your machine.
        </p>
        <button ?disabled=${this.busy} @click=${() => this.folderInput.click()}>Choose folder…</button>
        <button ?disabled=${this.busy} @click=${() => this.filesInput.click()}>Choose files…</button>
        <input id="folder" data-testid="folder-input" type="file" webkitdirectory multiple @change=${this._onPick} />
        <input id="files" data-testid="files-input" type="file" multiple @change=${this._onPick} />
      </div>
    `;
  }

  private _onDragOver(e: DragEvent) {
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    this.dragging = true;
  }

  private _onDragLeave() {
    this.dragging = false;
  }

  private async _onDrop(e: DragEvent) {
    e.preventDefault();
    this.dragging = false;
    if (this.busy || !e.dataTransfer) return;
    // Entries must be taken synchronously, before the event's data store is closed.
    const entries: FileSystemEntry[] = [];
    for (const item of Array.from(e.dataTransfer.items)) {
      const entry = item.kind === 'file' ? item.webkitGetAsEntry() : null;
      if (entry) entries.push(entry);
    }
    const loose = Array.from(e.dataTransfer.files);
    const files = entries.length ? await collectEntries(entries) : loose.map((file) => ({ path: file.name, file }));
    await this._announce(files);
  }

  private _onPick(e: Event) {
    const input = e.target as HTMLInputElement;
    const files = Array.from(input.files ?? []).map((file) => ({ path: file.webkitRelativePath || file.name, file }));
    input.value = '';
    void this._announce(files);
  }

  private async _announce(files: DroppedFile[]) {
    if (!files.length) return;
    await this.updateComplete;
    this.dispatchEvent(new CustomEvent('files-selected', { detail: { files }, bubbles: true, composed: true }));
  }
}

/** Walk dropped directory entries recursively; readEntries returns at most ~100 per call. */
async function collectEntries(entries: FileSystemEntry[]): Promise<DroppedFile[]> {
  const out: DroppedFile[] = [];
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
      out.push({ path, file });
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await walk(child, path);
      }
    }
  };
  for (const e of entries) await walk(e, '');
  return out;
}

declare global {
  interface HTMLElementTagNameMap {
    'luna-drop-zone': LunaDropZone;
  }
}
