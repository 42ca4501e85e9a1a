import { createTheme, DEFAULT_THEME, Drawer, Modal, Notification, type CSSVariablesResolver } from "@mantine/core";

export const theme = createTheme({
  primaryColor: "indigo",
  // Shade 7 keeps white button text above 4.5:1 in both schemes.
  primaryShade: { light: 7, dark: 7 },
  defaultRadius: "md",
  fontFamily: "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
  headings: { fontFamily: "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" },
  focusRing: "auto",
  cursorType: "pointer",
  // People who ask their system for less motion get none: collapses, drawers and modals appear at once.
  respectReducedMotion: true,
  // Icon-only close buttons need a name for screen readers (axe: button-name).
  components: {
    Modal: Modal.extend({ defaultProps: { closeButtonProps: { "aria-label": "Close dialog" } } }),
    Drawer: Drawer.extend({ defaultProps: { closeButtonProps: { "aria-label": "Close panel" } } }),
    Notification: Notification.extend({ defaultProps: { closeButtonProps: { "aria-label": "Dismiss notification" } } }),
  },
});

const colorNames = Object.keys(DEFAULT_THEME.colors);

/**
 * Mantine's default dimmed grey and its "light" variant text (badges, chips, avatars) fall below 4.5:1;
 * these darker (light scheme) and lighter (dark scheme) shades keep every label at AA contrast.
 */
export const cssVariablesResolver: CSSVariablesResolver = (t) => ({
  variables: {},
  light: {
    "--mantine-color-dimmed": t.colors.gray[7] ?? "#495057",
    // Placeholders drawn as elements (date pickers, selects rendered as buttons) are text to axe: keep them at 4.5:1
    // (#6b7280 on white 4.8:1, #a3a3a3 on the dark input 5.4:1) yet lighter than entered values.
    "--mantine-color-placeholder": "#6b7280",
    "--mantine-color-error": t.colors.red[9] ?? "#c92a2a",
    ...Object.fromEntries(
      colorNames.map((c) => [
        `--mantine-color-${c}-light-color`,
        `color-mix(in srgb, var(--mantine-color-${c}-9), black 35%)`,
      ]),
    ),
  },
  dark: {
    "--mantine-color-dimmed": t.colors.dark[1] ?? "#b8b8b8",
    "--mantine-color-placeholder": "#a3a3a3",
    "--mantine-color-error": t.colors.red[4] ?? "#ff8787",
    ...Object.fromEntries(colorNames.map((c) => [`--mantine-color-${c}-light-color`, `var(--mantine-color-${c}-2)`])),
  },
});
