/** The lab's version and the commit it was built from (Vite defines it; 'dev' when run from source). */
declare const __LAB_COMMIT__: string | undefined;

export const LAB_VERSION = '0.1.0';
export const LAB_COMMIT: string = typeof __LAB_COMMIT__ === 'string' ? __LAB_COMMIT__ : 'dev';
