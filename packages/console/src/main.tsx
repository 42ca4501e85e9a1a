import "@mantine/core/styles.css";
import "@mantine/notifications/styles.css";
import "./app.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { MantineProvider } from "@mantine/core";
import { Notifications } from "@mantine/notifications";
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { RouterProvider } from "react-router";
import { cssVariablesResolver, theme } from "./theme";
import { router } from "./router";
import { api, ApiFailure } from "./api/client";
import type { Me } from "./api/types";
import { meKey } from "./session";

/**
 * Org-wide MFA, whichever call runs into it (a page's query, a button's mutation):
 * - mfa_enrollment_required: until the member enrols, every call answers this; send them to enrolment;
 * - mfa_required: this session was signed in before the factor was set up on another device; it can only
 *   sign out, so end it and ask for a sign-in with the factor, coming back to the same page.
 */
function onMfaGate(error: unknown) {
  if (!(error instanceof ApiFailure)) return;
  const here = encodeURIComponent(location.pathname + location.search);
  if (error.code === "mfa_enrollment_required" && !location.pathname.startsWith("/mfa")) {
    void router.navigate(`/mfa/enroll?next=${here}`);
  }
  if (error.code === "mfa_required" && !location.pathname.startsWith("/sign-in")) {
    const email = queryClient.getQueryData<Me | null>(meKey)?.user.email;
    void api
      .POST("/v1/auth/sign-out")
      .catch(() => undefined)
      .finally(() => {
        queryClient.clear();
        void router.navigate(`/sign-in?reason=mfa&next=${here}${email ? `&email=${encodeURIComponent(email)}` : ""}`);
      });
  }
}

const queryClient: QueryClient = new QueryClient({
  queryCache: new QueryCache({ onError: onMfaGate }),
  mutationCache: new MutationCache({ onError: onMfaGate }),
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      refetchOnWindowFocus: false,
      retry: (count, error) => !(error instanceof ApiFailure && error.status < 500) && count < 2,
    },
  },
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <MantineProvider theme={theme} cssVariablesResolver={cssVariablesResolver} defaultColorScheme="auto">
      <Notifications position="bottom-right" />
      <QueryClientProvider client={queryClient}>
        <RouterProvider router={router} />
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
