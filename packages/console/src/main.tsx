import "@mantine/core/styles.css";
import "@mantine/notifications/styles.css";
import "./app.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { MantineProvider } from "@mantine/core";
import { Notifications } from "@mantine/notifications";
import { QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { RouterProvider } from "react-router";
import { cssVariablesResolver, theme } from "./theme";
import { router } from "./router";
import { ApiFailure } from "./api/client";

const queryClient = new QueryClient({
  queryCache: new QueryCache({
    onError(error) {
      // Org-wide MFA: until the member enrols, every org call answers this; send them to enrolment.
      if (error instanceof ApiFailure && error.code === "mfa_enrollment_required" && !location.pathname.startsWith("/mfa")) {
        void router.navigate(`/mfa/enroll?next=${encodeURIComponent(location.pathname + location.search)}`);
      }
    },
  }),
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
